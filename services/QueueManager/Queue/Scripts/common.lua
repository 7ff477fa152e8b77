-- Shared prelude of every queue script (prepended at load time). KEYS always follow the order of
-- QueueScripts.Keys: the channel's keys, all in one hash slot ({channel}).
local K_CONFIG, K_MESSAGES, K_STATE, K_READY, K_SEQ, K_DELAYED, K_LEASES, K_OWNERS, K_EXPIRY, K_DLQ, K_DLQ_INFO, K_IDEM, K_IDEM_EXP, K_SETTLED, K_STATS, K_CONNS, K_CONN_INFO, K_SWEEP_LOCK =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17], KEYS[18]

-- Redis' clock, not the replica's: every replica agrees on lease deadlines and due times.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function cfg_number(field, fallback)
  local v = redis.call('HGET', K_CONFIG, field)
  if v then return tonumber(v) end
  return fallback
end

-- state: "attempts|first_delivered_ms|last_delivered_ms|sequence" (sequence: the message's place in the channel's
-- queue, its score in ready when first leased, which publish and replay take from seq; absent in states written by
-- versions before it, then 0). Only deliver.lua writes state.
local function read_state(id)
  local s = redis.call('HGET', K_STATE, id)
  if not s then return 0, 0, 0, 0 end
  local a, f, l, q = string.match(s, '^(%d+)|(%d+)|(%d+)|?(%d*)$')
  return tonumber(a), tonumber(f), tonumber(l), tonumber(q) or 0
end

-- The n-th retry waits min(initial * multiplier^(n-1), max), randomised by ±jitter (r in [-1, 1]).
local function backoff_ms(attempts, r)
  local initial = cfg_number('backoff_initial_ms', 1000)
  local multiplier = cfg_number('backoff_multiplier', 2)
  local max = cfg_number('backoff_max_ms', 300000)
  local jitter = cfg_number('backoff_jitter', 0.2)
  local n = math.max(attempts, 1)
  local delay = math.min(initial * (multiplier ^ (n - 1)), max)
  return math.max(0, math.floor(delay * (1 + jitter * r)))
end

local function wake(events_channel, channel)
  redis.call('PUBLISH', events_channel, 'wake|' .. channel .. '||')
end

-- Takes a message out of every live structure (ready, delayed, leases, owners, expiry, state); its body stays.
local function unlink(id)
  redis.call('ZREM', K_READY, id)
  redis.call('ZREM', K_DELAYED, id)
  redis.call('ZREM', K_LEASES, id)
  redis.call('HDEL', K_OWNERS, id)
  redis.call('ZREM', K_EXPIRY, id)
  redis.call('HDEL', K_STATE, id)
end

-- Byte accounting (max_queue_bytes): the stats field queue_bytes is the sum of the stored envelope sizes in
-- messages. Invariant: every HSET and HDEL of messages goes through store_message / forget_message, so the
-- counter is exact whatever path a message leaves by (ack, expiry, purge); delete-channel drops the stats hash
-- with the messages. A message stored by a version without the counter was never added; the floor at 0 keeps
-- its removal from driving the counter negative.
local QUEUE_BYTES = 'queue_bytes'

local function store_message(id, envelope)
  redis.call('HSET', K_MESSAGES, id, envelope)
  redis.call('HINCRBY', K_STATS, QUEUE_BYTES, #envelope)
end

local function forget_message(id)
  local size = redis.call('HSTRLEN', K_MESSAGES, id)
  if redis.call('HDEL', K_MESSAGES, id) == 1 and size > 0 then
    if redis.call('HINCRBY', K_STATS, QUEUE_BYTES, -size) < 0 then
      redis.call('HSET', K_STATS, QUEUE_BYTES, 0)
    end
  end
end

-- Settles a message for good (acked, expired): gone everywhere, remembered in settled for publish idempotency.
local function settle(id, now)
  unlink(id)
  forget_message(id)
  redis.call('ZADD', K_SETTLED, now, id)
end

-- Invariant: a dead letter is in dlq + dlq-info + messages, and in none of ready, delayed, leases, owners,
-- expiry, state.
local function dead_letter(id, reason, err, status, now)
  local attempts, first, last = read_state(id)
  unlink(id)
  redis.call('ZADD', K_DLQ, now, id)
  redis.call('HSET', K_DLQ_INFO, id, table.concat({ reason, attempts, first, last, now, status or 0, err or '' }, '|'))
  redis.call('HINCRBY', K_STATS, 'dead_lettered_total', 1)
end

-- TTL expiry of a message that is not leased: counted, then dead-lettered or forgotten.
local function expire(id, now)
  redis.call('HINCRBY', K_STATS, 'expired_total', 1)
  if cfg_number('dead_letter_expired', 0) == 1 then
    dead_letter(id, 'EXPIRED', 'ttl expired', 0, now)
    return
  end
  settle(id, now)
end

-- A lease ended without an ack (nack with retry, lease expiry): back after the backoff, or dead-lettered when
-- the delivery budget is spent. Returns true when the message is deliverable at once.
local function retry_or_dead_letter(id, reason_on_max, err, status, r, now)
  local attempts = read_state(id)
  if attempts >= cfg_number('max_delivery_attempts', 10) then
    dead_letter(id, reason_on_max, err, status, now)
    return false
  end
  local delay = backoff_ms(attempts, r)
  if delay <= 0 then
    redis.call('ZADD', K_READY, 0, id)
    return true
  end
  redis.call('ZADD', K_DELAYED, now + delay, id)
  return false
end
