-- Normalise names and fill missing e-mails.
SELECT customer_id,
       TRIM(name)                              AS customer_name,
       COALESCE(LOWER(email), 'unknown')       AS email,
       UPPER(country)                          AS country,
       signup_date
FROM bronze_customers
WHERE customer_id IS NOT NULL
