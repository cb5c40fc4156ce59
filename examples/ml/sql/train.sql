-- Trains the model on the train split: equal-frequency buckets of one feature, each with its churn
-- rate smoothed toward the overall rate: (positives + smoothing * prior) / (n + smoothing).
-- Hyperparameters: feature, num_buckets, smoothing (and the pipeline's model_version).
WITH train AS (
  SELECT churned,
         CASE '${tauro.ml.feature}'
           WHEN 'tenure_months' THEN CAST(tenure_months AS DOUBLE)
           WHEN 'monthly_spend' THEN CAST(monthly_spend AS DOUBLE)
           WHEN 'support_calls' THEN CAST(support_calls AS DOUBLE)
           ELSE raise_error('unknown feature: ${tauro.ml.feature}')
         END AS x
  FROM ml_dataset
  WHERE split = 'train'
),
tiles AS (
  SELECT churned, x,
         ntile(CAST(CAST('${tauro.ml.num_buckets}' AS DOUBLE) AS INT)) OVER (ORDER BY x) AS tile
  FROM train
),
-- Equal values share a bucket: a value goes to the first tile it falls in (some tiles then vanish).
valued AS (
  SELECT churned, x, MIN(tile) OVER (PARTITION BY x) AS tile
  FROM tiles
),
buckets AS (
  SELECT tile, MIN(x) AS lower_bound, MAX(x) AS upper_bound,
         COUNT(*) AS n, SUM(churned) AS positives
  FROM valued
  GROUP BY tile
),
params AS (
  SELECT AVG(CAST(churned AS DOUBLE)) AS prior,
         CAST('${tauro.ml.smoothing}' AS DOUBLE) AS smoothing
  FROM train
)
SELECT '${tauro.ml.feature}'                                   AS feature,
       CAST(DENSE_RANK() OVER (ORDER BY b.tile) AS INT)          AS bucket_id,
       b.lower_bound, b.upper_bound, b.n, b.positives,
       (b.positives + p.smoothing * p.prior) / (b.n + p.smoothing) AS churn_rate,
       p.prior, p.smoothing,
       '${tauro.ml.model_version}'                             AS model_version
FROM buckets b
CROSS JOIN params p
