-- Customers whose contract was signed in the run window, each assigned for good to the train (70%)
-- or test (30%) split by a hash of its id, so every run and every trial sees the same split.
SELECT customer_id, signup_date, tenure_months, monthly_spend, support_calls, churned,
       CASE WHEN pmod(hash(customer_id), 10) < 7 THEN 'train' ELSE 'test' END AS split
FROM customers
WHERE signup_date BETWEEN :start_date AND :end_date
