-- Nack: ARGV 1 connection id, 2 message id, 3 retry (1/0), 4 reason, 5 target status code, 6 random seed,
--       7 events channel, 8 channel name, 9 target duration in microseconds ('' unknown).
-- Returns 0 when the id is not leased to this connection (ignored), 1 otherwise.
-- retry = 1: redelivered after the backoff (dead-lettered with MAX_ATTEMPTS once the budget is spent);
-- retry = 0: dead-lettered now with REJECTED.
local connection, id, retry, reason, status = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4], tonumber(ARGV[5])
if redis.call('HGET', K_OWNERS, id) ~= connection then return 0 end
math.randomseed(tonumber(ARGV[6]))
local now = now_ms()
redis.call('ZREM', K_LEASES, id)
redis.call('HDEL', K_OWNERS, id)
redis.call('HINCRBY', K_STATS, 'nacked_total', 1)
local outcome = 'NACKED_RETRY'
if not retry then outcome = 'NACKED_REJECTED' end
attempt_failed(id, outcome, now, status, ARGV[9] or '', reason)
if not retry then
  dead_letter(id, 'REJECTED', reason, status, now)
elseif retry_or_dead_letter(id, 'MAX_ATTEMPTS', reason, status, math.random() * 2 - 1, now) then
  wake(ARGV[7], ARGV[8])
end
return 1
