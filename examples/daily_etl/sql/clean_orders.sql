-- Keep completed orders with a positive quantity; one row per order id.
SELECT order_id, customer_id, product_id, quantity, order_ts, order_date
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY order_ts DESC) AS rn
  FROM bronze_orders
  WHERE status = 'completed' AND quantity > 0
    AND order_date BETWEEN :start_date AND :end_date
)
WHERE rn = 1
