-- Remove every key of one crawl and its name from the crawls set.
-- KEYS[1..4] the crawl's meta hash, seen set or Bloom bitmap, claims hash and done bitmap; KEYS[5] the crawls set
-- ARGV[1] name
-- UNLINK, not DEL: a seen set of millions of ids is freed in the background instead of blocking the server.
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('SREM', KEYS[5], ARGV[1])
return 1
