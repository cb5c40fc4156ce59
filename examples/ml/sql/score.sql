-- Scores the test split with the model of this model_version: a customer takes the churn rate of the
-- bucket whose [lower_bound, upper_bound] holds its feature value, or of the nearest bucket when its
-- value falls between or outside the buckets (ties go to the lower bucket). Hyperparameter: threshold.
WITH model AS (
  SELECT * FROM churn_model_buckets WHERE model_version = '${tauro.ml.model_version}'
),
test AS (
  SELECT d.customer_id, d.churned,
         CASE f.feature
           WHEN 'tenure_months' THEN CAST(d.tenure_months AS DOUBLE)
           WHEN 'monthly_spend' THEN CAST(d.monthly_spend AS DOUBLE)
           WHEN 'support_calls' THEN CAST(d.support_calls AS DOUBLE)
         END AS x
  FROM ml_dataset d
  CROSS JOIN (SELECT DISTINCT feature FROM model) f
  WHERE d.split = 'test'
),
matched AS (
  SELECT t.customer_id, t.churned, t.x, m.bucket_id, m.churn_rate,
         ROW_NUMBER() OVER (
           PARTITION BY t.customer_id
           ORDER BY CASE WHEN t.x < m.lower_bound THEN m.lower_bound - t.x
                         WHEN t.x > m.upper_bound THEN t.x - m.upper_bound
                         ELSE 0.0 END,
                    m.bucket_id) AS rn
  FROM test t
  CROSS JOIN model m
)
SELECT customer_id, churned, x AS feature_value, bucket_id,
       churn_rate AS probability,
       CASE WHEN churn_rate >= CAST('${tauro.ml.threshold}' AS DOUBLE) THEN 1 ELSE 0 END AS prediction,
       '${tauro.ml.model_version}' AS model_version
FROM matched
WHERE rn = 1
