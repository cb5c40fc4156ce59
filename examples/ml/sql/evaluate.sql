-- Test-split metrics as one row of DOUBLE columns: f1, accuracy, precision, recall, auc.
-- AUC is the Mann-Whitney rank-sum statistic (tied probabilities share their average rank).
-- A metric that is undefined (no predicted positives, a class missing) is 0.0.
WITH counts AS (
  SELECT CAST(COALESCE(SUM(CASE WHEN prediction = 1 AND churned = 1 THEN 1 ELSE 0 END), 0) AS DOUBLE) AS tp,
         CAST(COALESCE(SUM(CASE WHEN prediction = 1 AND churned = 0 THEN 1 ELSE 0 END), 0) AS DOUBLE) AS fp,
         CAST(COALESCE(SUM(CASE WHEN prediction = 0 AND churned = 1 THEN 1 ELSE 0 END), 0) AS DOUBLE) AS fn,
         CAST(COALESCE(SUM(CASE WHEN prediction = 0 AND churned = 0 THEN 1 ELSE 0 END), 0) AS DOUBLE) AS tn
  FROM churn_scores
),
ranked AS (
  SELECT churned,
         CAST(RANK() OVER (ORDER BY probability) AS DOUBLE)
           + (CAST(COUNT(*) OVER (PARTITION BY probability) AS DOUBLE) - 1.0) / 2.0 AS avg_rank
  FROM churn_scores
),
rank_sum AS (
  SELECT CAST(COALESCE(SUM(CASE WHEN churned = 1 THEN avg_rank ELSE 0.0 END), 0.0) AS DOUBLE) AS pos_ranks
  FROM ranked
),
rates AS (
  SELECT c.tp, c.fp, c.fn, c.tn, r.pos_ranks,
         c.tp + c.fn AS pos,
         c.fp + c.tn AS neg,
         COALESCE(c.tp / NULLIF(c.tp + c.fp, 0.0), 0.0) AS prec,
         COALESCE(c.tp / NULLIF(c.tp + c.fn, 0.0), 0.0) AS rec
  FROM counts c
  CROSS JOIN rank_sum r
)
SELECT CAST(COALESCE(2.0 * prec * rec / NULLIF(prec + rec, 0.0), 0.0) AS DOUBLE)            AS f1,
       CAST(COALESCE((tp + tn) / NULLIF(pos + neg, 0.0), 0.0) AS DOUBLE)                    AS accuracy,
       CAST(prec AS DOUBLE)                                                                 AS `precision`,
       CAST(rec AS DOUBLE)                                                                  AS recall,
       CAST(COALESCE((pos_ranks - pos * (pos + 1.0) / 2.0) / NULLIF(pos * neg, 0.0), 0.0) AS DOUBLE) AS auc
FROM rates
