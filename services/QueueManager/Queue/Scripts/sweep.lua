-- Periodic work on one channel, safe to run from any replica at any time (all of it is idempotent; the lock
-- only avoids doing it twice per period). ARGV: 1 lock owner, 2 lock ms, 3 random seed, 4 batch size,
-- 5 settled retention ms, 6 events channel, 7 channel name.
-- Returns { ran (0/1), more (1 when a batch limit was hit), connection ids found stale and removed } (the caller
-- removes those from the cross-slot wc:connection-index).
if redis.call('EXISTS', K_CONFIG) == 0 then return { 0, 0, {} } end
local holder = redis.call('GET', K_SWEEP_LOCK)
if holder and holder ~= ARGV[1] then return { 0, 0, {} } end
redis.call('SET', K_SWEEP_LOCK, ARGV[1], 'PX', ARGV[2])
math.randomseed(tonumber(ARGV[3]))
local batch = tonumber(ARGV[4])
local now = now_ms()
local woke = false
local more = 0

-- 1. Leases that ran out: an attempt was spent; retry after the backoff or dead-letter.
local expired_leases = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, batch)
if #expired_leases == batch then more = 1 end
for _, id in ipairs(expired_leases) do
  redis.call('ZREM', K_LEASES, id)
  redis.call('HDEL', K_OWNERS, id)
  redis.call('HINCRBY', K_STATS, 'lease_expired_total', 1)
  attempt_failed(id, 'LEASE_EXPIRED', now, 0, '', 'lease expired')
  local expires = redis.call('ZSCORE', K_EXPIRY, id)
  if expires and tonumber(expires) <= now then
    expire(id, now)
  elseif retry_or_dead_letter(id, 'MAX_ATTEMPTS', 'lease expired', 0, math.random() * 2 - 1, now) then
    woke = true
  end
end

-- 2. Retries whose backoff elapsed go to the front of the queue.
local due = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now, 'LIMIT', 0, batch)
if #due == batch then more = 1 end
for _, id in ipairs(due) do
  redis.call('ZREM', K_DELAYED, id)
  redis.call('ZADD', K_READY, 0, id)
  woke = true
end

-- 3. TTL: waiting or delayed messages past their expiry. Leased ones are left to their lease's end (an ack in
--    time still counts); step 1 and deliver.lua expire them then.
--    Leased ones stay at the head of the range, so the next page starts after those skipped.
local skipped = 0
for round = 1, 5 do
  local expired = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', skipped, batch)
  for _, id in ipairs(expired) do
    if redis.call('ZSCORE', K_LEASES, id) then skipped = skipped + 1 else expire(id, now) end
  end
  if #expired < batch then break end
  if skipped == 0 or round == 5 then more = 1; break end
end

-- 4. History: entries older than history_retention (live ones leave the listing only), then the byte budget.
local retention = cfg_number('history_retention_ms', 86400000)
local old = redis.call('ZRANGEBYSCORE', K_HIST, '-inf', '(' .. string.format('%d', (now - retention) * 1000), 'LIMIT', 0, batch)
if #old == batch then more = 1 end
for _, id in ipairs(old) do hist_drop(id) end
if hist_trim(batch) then more = 1 end

-- 5. Forget what no longer needs remembering.
redis.call('ZREMRANGEBYSCORE', K_SETTLED, '-inf', now - tonumber(ARGV[5]))
local old_keys = redis.call('ZRANGEBYSCORE', K_IDEM_EXP, '-inf', now, 'LIMIT', 0, batch)
for _, key in ipairs(old_keys) do
  redis.call('HDEL', K_IDEM, key)
  redis.call('ZREM', K_IDEM_EXP, key)
end
local stale = redis.call('ZRANGEBYSCORE', K_CONNS, '-inf', now)
for _, connection in ipairs(stale) do
  redis.call('ZREM', K_CONNS, connection)
  redis.call('HDEL', K_CONN_INFO, connection)
end

if woke then wake(ARGV[6], ARGV[7]) end
return { 1, more, stale }
