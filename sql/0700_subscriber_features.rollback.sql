DROP INDEX IF EXISTS tracked_products_product_idx;
DROP TABLE IF EXISTS api_tokens;
DROP TABLE IF EXISTS channel_verifications;
