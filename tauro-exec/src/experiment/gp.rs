//! Gaussian-process regression and expected improvement, in plain `f64` code.
//!
//! Kernel: Matérn 5/2 on Euclidean distance with one length scale (no ARD), signal variance
//! σ² and noise `g·σ²`. Targets are normalised (mean 0, std 1). For each (length scale, noise
//! ratio) of a fixed grid, σ² has a closed-form maximum-likelihood value (`yᵀ(R + gI)⁻¹y / n`),
//! so the grid search over the profile log marginal likelihood fits all three, deterministically.
//! Cholesky factorisation is O(n³): fine for the ≤ 200 trials of an experiment.

/// Length scales of the grid, times √(input dimension) (typical distances grow with it).
const LENGTH_SCALES: [f64; 7] = [0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 2.0];
/// Noise variances of the grid, as fractions of the signal variance.
const NOISE_RATIOS: [f64; 4] = [1e-6, 1e-4, 1e-2, 1e-1];
/// Added to the diagonal, in turn, when a factorisation fails (duplicate points).
const JITTERS: [f64; 5] = [0.0, 1e-10, 1e-8, 1e-6, 1e-4];

/// A fitted Gaussian process.
#[derive(Debug, Clone)]
pub(crate) struct GaussianProcess {
    x: Vec<Vec<f64>>,
    /// Lower Cholesky factor of `R + gI` (row-major, n × n).
    chol: Vec<f64>,
    /// `(R + gI)⁻¹ y` (normalised targets).
    beta: Vec<f64>,
    length_scale: f64,
    /// σ², in normalised units.
    signal: f64,
    /// Target normalisation (predictions in target units are for tests only so far).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by test-only predict"))]
    y_mean: f64,
    #[cfg_attr(not(test), expect(dead_code, reason = "read by test-only predict"))]
    y_std: f64,
    /// The smallest normalised target.
    best: f64,
}

impl GaussianProcess {
    /// Fits inputs `x` (equal lengths) to targets `y`. `None` without data, with non-finite
    /// values, or when no hyperparameters of the grid give a positive-definite matrix.
    pub(crate) fn fit(x: &[Vec<f64>], y: &[f64]) -> Option<Self> {
        let n = y.len();
        let d = x.first()?.len();
        let finite = x.iter().flatten().chain(y).all(|v| v.is_finite());
        if n != x.len() || !finite || x.iter().any(|row| row.len() != d) {
            return None;
        }
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n as f64;
        let y_std = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        let yn: Vec<f64> = y.iter().map(|v| (v - y_mean) / y_std).collect();
        let dist: Vec<f64> = (0..n * n).map(|k| distance(&x[k / n], &x[k % n])).collect();
        let scale = (d.max(1) as f64).sqrt();

        let mut best: Option<(f64, Fitted)> = None;
        for base in LENGTH_SCALES {
            let length_scale = base * scale;
            let corr: Vec<f64> = dist.iter().map(|r| matern52(*r, length_scale)).collect();
            for ratio in NOISE_RATIOS {
                let Some(fitted) = factorise(&corr, n, ratio, &yn) else {
                    continue;
                };
                let ll = fitted.log_likelihood(n);
                if best.as_ref().is_none_or(|(b, _)| ll > *b) {
                    best = Some((
                        ll,
                        Fitted {
                            length_scale,
                            ..fitted
                        },
                    ));
                }
            }
        }
        let (_, f) = best?;
        Some(Self {
            x: x.to_vec(),
            signal: f.signal(n),
            chol: f.chol,
            beta: f.beta,
            length_scale: f.length_scale,
            y_mean,
            y_std,
            best: yn.iter().copied().fold(f64::INFINITY, f64::min),
        })
    }

    /// Posterior mean and variance of the (noise-free) function at `x`, in target units.
    #[cfg(test)]
    pub(crate) fn predict(&self, x: &[f64]) -> (f64, f64) {
        let (mean, var) = self.predict_normalised(x);
        (
            self.y_mean + self.y_std * mean,
            self.y_std * self.y_std * var,
        )
    }

    /// At `x`, in normalised units: the expected improvement below the smallest target less
    /// a margin `xi` that favours exploration, and the lower confidence bound `mean − 2·sd`
    /// (to rank candidates when the improvement underflows everywhere).
    pub(crate) fn acquisition(&self, x: &[f64], xi: f64) -> (f64, f64) {
        let (mean, var) = self.predict_normalised(x);
        let sd = var.sqrt();
        (
            expected_improvement(mean, sd, self.best, xi),
            mean - 2.0 * sd,
        )
    }

    /// The chosen length scale.
    #[cfg(test)]
    pub(crate) fn length_scale(&self) -> f64 {
        self.length_scale
    }

    /// Mean and variance in normalised units (called for thousands of candidates per
    /// proposal: one allocation, forward substitution in place).
    fn predict_normalised(&self, x: &[f64]) -> (f64, f64) {
        let n = self.x.len();
        let mut r = Vec::with_capacity(n);
        for xi in &self.x {
            r.push(matern52(distance(xi, x), self.length_scale));
        }
        let mean = dot(&r, &self.beta);
        // Forward substitution in place: r becomes L⁻¹r.
        let mut explained = 0.0;
        for i in 0..n {
            let row = &self.chol[i * n..i * n + i];
            let mut s = r[i];
            for k in 0..i {
                s -= row[k] * r[k];
            }
            r[i] = s / self.chol[i * n + i];
            explained += r[i] * r[i];
        }
        (mean, self.signal * (1.0 - explained).max(0.0))
    }
}

/// One grid point's factorisation.
struct Fitted {
    chol: Vec<f64>,
    beta: Vec<f64>,
    /// `yᵀ(R + gI)⁻¹y`.
    quad: f64,
    log_det_half: f64,
    length_scale: f64,
}

impl Fitted {
    fn signal(&self, n: usize) -> f64 {
        (self.quad / n as f64).max(1e-12)
    }

    /// Log marginal likelihood with σ² at its maximum.
    fn log_likelihood(&self, n: usize) -> f64 {
        let tau = 2.0 * std::f64::consts::PI;
        -0.5 * n as f64 * (self.signal(n).ln() + 1.0 + tau.ln()) - self.log_det_half
    }
}

fn factorise(corr: &[f64], n: usize, ratio: f64, y: &[f64]) -> Option<Fitted> {
    JITTERS.iter().find_map(|jitter| {
        let mut a = corr.to_vec();
        for i in 0..n {
            a[i * n + i] += ratio + jitter;
        }
        let chol = cholesky(a, n)?;
        let beta = backward(&chol, n, &forward(&chol, n, y));
        let log_det_half = (0..n).map(|i| chol[i * n + i].ln()).sum();
        Some(Fitted {
            quad: dot(y, &beta),
            chol,
            beta,
            log_det_half,
            length_scale: 0.0,
        })
    })
}

/// In-place lower Cholesky factor of a symmetric n × n matrix; `None` if not positive definite.
fn cholesky(mut a: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut diag = a[j * n + j];
        for k in 0..j {
            diag -= a[j * n + k] * a[j * n + k];
        }
        if !(diag > 0.0 && diag.is_finite()) {
            return None;
        }
        let diag = diag.sqrt();
        a[j * n + j] = diag;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / diag;
        }
        for i in 0..j {
            a[i * n + j] = 0.0;
        }
    }
    Some(a)
}

/// Solves `L z = b`.
fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
        z[i] = (b[i] - s) / l[i * n + i];
    }
    z
}

/// Solves `Lᵀ z = b`.
fn backward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * z[k]).sum();
        z[i] = (b[i] - s) / l[i * n + i];
    }
    z
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (x, y) in a.iter().zip(b) {
        sum += (x - y) * (x - y);
    }
    sum.sqrt()
}

fn matern52(r: f64, length_scale: f64) -> f64 {
    let s = 5f64.sqrt() * r / length_scale;
    (1.0 + s + s * s / 3.0) * (-s).exp()
}

/// Expected improvement of a normal `N(mean, sd²)` below `best − xi` (minimisation).
pub(crate) fn expected_improvement(mean: f64, sd: f64, best: f64, xi: f64) -> f64 {
    let gain = best - xi - mean;
    if sd <= 1e-12 {
        return gain.max(0.0);
    }
    let z = gain / sd;
    (gain * normal_cdf(z) + sd * normal_pdf(z)).max(0.0)
}

fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function, relative error < 1.2e-7 (Chebyshev fit, Numerical Recipes
/// `erfcc`); std has no `erf`.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> (Vec<Vec<f64>>, Vec<f64>) {
        let x: Vec<Vec<f64>> = (0..7).map(|i| vec![f64::from(i) / 6.0]).collect();
        let y = x.iter().map(|p| (6.0 * p[0]).sin() * 3.0 + 10.0).collect();
        (x, y)
    }

    #[test]
    fn interpolates_training_points_and_is_unsure_far_away() {
        let (x, y) = curve();
        let gp = GaussianProcess::fit(&x, &y).unwrap();
        for (p, t) in x.iter().zip(&y) {
            let (mean, var) = gp.predict(p);
            assert!((mean - t).abs() < 0.05, "{p:?}: {mean} vs {t}");
            assert!(var < 0.01, "{p:?}: variance {var}");
        }
        let (_, near) = gp.predict(&[0.5]);
        let (_, far) = gp.predict(&[3.0]);
        assert!(far > 100.0 * near.max(1e-9), "far {far}, near {near}");
        assert!(
            far > 1.0,
            "far from the data the prior variance comes back: {far}"
        );
        assert!(gp.length_scale() > 0.03, "{}", gp.length_scale());
    }

    #[test]
    fn expected_improvement_is_largest_where_improvement_is_likely() {
        let (x, y) = curve();
        let gp = GaussianProcess::fit(&x, &y).unwrap();
        // sin(6x) is smallest at x = π/4 ≈ 0.785, between the points 4/6 and 5/6.
        let (at_min, low_at_min) = gp.acquisition(&[0.785], 0.0);
        let (at_max, low_at_max) = gp.acquisition(&[0.26], 0.0);
        let (at_known, _) = gp.acquisition(&[4.0 / 6.0], 0.0);
        assert!(at_min > 0.0);
        assert!(at_min > 100.0 * at_max.max(1e-12), "{at_min} vs {at_max}");
        assert!(at_min > at_known, "{at_min} vs {at_known}");
        assert!(low_at_min < low_at_max);
    }

    #[test]
    fn expected_improvement_formula() {
        // No uncertainty: the plain gain.
        assert_eq!(expected_improvement(1.0, 0.0, 3.0, 0.5), 1.5);
        assert_eq!(expected_improvement(4.0, 0.0, 3.0, 0.0), 0.0);
        // At the incumbent: sd·φ(0).
        let ei = expected_improvement(0.0, 2.0, 0.0, 0.0);
        assert!((ei - 2.0 * 0.398_942_28).abs() < 1e-6);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }

    #[test]
    fn duplicate_points_and_flat_targets_still_fit() {
        let x = vec![vec![0.2, 0.2], vec![0.2, 0.2], vec![0.8, 0.1]];
        let gp = GaussianProcess::fit(&x, &[1.0, 1.0, 1.0]).unwrap();
        let (mean, _) = gp.predict(&[0.2, 0.2]);
        assert!((mean - 1.0).abs() < 1e-6);
        let gp = GaussianProcess::fit(&x, &[1.0, 1.2, 3.0]).unwrap();
        assert!(gp.predict(&[0.5, 0.5]).0.is_finite());
    }

    #[test]
    fn refuses_what_it_cannot_fit() {
        assert!(GaussianProcess::fit(&[], &[]).is_none());
        assert!(GaussianProcess::fit(&[vec![0.1]], &[f64::NAN]).is_none());
        assert!(GaussianProcess::fit(&[vec![0.1], vec![0.2, 0.3]], &[1.0, 2.0]).is_none());
    }
}
