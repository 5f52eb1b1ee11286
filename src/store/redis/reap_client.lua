-- ARGV: 2 client ID, 3 budget. One bounded step of reaping a deleted client (see the
-- prelude's reap_client). Returns {how many records went, 1 if done else 0}.
return reap_client(ARGV[2], tonumber(ARGV[3]))
