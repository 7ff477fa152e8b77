-- Unregister a connection: ARGV 1 connection id.
redis.call('ZREM', K_CONNS, ARGV[1])
redis.call('HDEL', K_CONN_INFO, ARGV[1])
return 1
