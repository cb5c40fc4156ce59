-- One line per order with customer and product attributes.
SELECT o.order_id, o.order_date, o.order_ts, o.customer_id, c.customer_name, c.country,
       o.product_id, p.product_name, p.category, o.quantity, p.unit_price,
       CAST(o.quantity * p.unit_price AS DECIMAL(12, 2)) AS line_total
FROM silver_orders o
JOIN silver_customers c ON o.customer_id = c.customer_id
JOIN products p         ON o.product_id  = p.product_id
WHERE o.order_date BETWEEN :start_date AND :end_date
