-- Shared prelude of every queue script (prepended at load time). KEYS always follow the order of
-- QueueScripts.Keys: the channel's keys, all in one hash slot ({channel}).
local K_CONFIG, K_MESSAGES, K_STATE, K_READY, K_SEQ, K_DELAYED, K_LEASES, K_OWNERS, K_EXPIRY, K_DLQ, K_DLQ_INFO, K_IDEM, K_IDEM_EXP, K_SETTLED, K_STATS, K_CONNS, K_CONN_INFO, K_SWEEP_LOCK =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17], KEYS[18]
local K_HIST, K_HIST_REC, K_HIST_ENV, K_HIST_SETTLED, K_TAILERS = KEYS[19], KEYS[20], KEYS[21], KEYS[22], KEYS[23]

-- Redis' clock, not the replica's: every replica agrees on lease deadlines and due times.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- No script writes the config hash, so a field read once holds for the rest of the call (a script runs atomically):
-- remembered per call instead of one HGET per message that asks (ack asks history_max_bytes for each message).
local cfg_read = {}
local function cfg_number(field, fallback)
  local v = cfg_read[field]
  if v == nil then
    v = redis.call('HGET', K_CONFIG, field) or false
    cfg_read[field] = v
  end
  if v then return tonumber(v) end
  return fallback
end

-- state: "attempts|first_delivered_ms|last_delivered_ms|sequence" (sequence: the message's place in the channel's
-- queue, its score in ready when first leased, which publish and replay take from seq; absent in states written by
-- versions before it, then 0). Only deliver.lua writes state.
local function parse_state(s)
  if not s then return 0, 0, 0, 0 end
  local a, f, l, q = string.match(s, '^(%d+)|(%d+)|(%d+)|?(%d*)$')
  return tonumber(a), tonumber(f), tonumber(l), tonumber(q) or 0
end

local function read_state(id)
  return parse_state(redis.call('HGET', K_STATE, id))
end

-- One command over many fields (HMGET; HSET, ZADD of pairs) instead of one command per field: a
-- redis.call costs more than the work it carries. In slices, as Lua's unpack refuses a few thousand values and a
-- lease batch may hold 10 000 ids (even, so pairs stay whole).
local SLICE = 1024
local function read_many(command, key, fields)
  if #fields <= SLICE then return redis.call(command, key, unpack(fields)) end
  local all = {}
  for from = 1, #fields, SLICE do
    local part = redis.call(command, key, unpack(fields, from, math.min(from + SLICE - 1, #fields)))
    for i = 1, #part do all[#all + 1] = part[i] end
  end
  return all
end

-- The scores of `ids` in a sorted set (false where absent). ZMSCORE came with Redis 6.2; an older server (Ubuntu
-- 22.04's apt package is 6.0) answers it with an error, and then gets one ZSCORE per id as before.
local function scores_of(key, ids)
  local first = redis.pcall('ZMSCORE', key, unpack(ids, 1, math.min(SLICE, #ids)))
  if type(first) == 'table' and first.err then
    local all = {}
    for i = 1, #ids do all[i] = redis.call('ZSCORE', key, ids[i]) end
    return all
  end
  if #ids <= SLICE then return first end
  for from = SLICE + 1, #ids, SLICE do
    local part = redis.call('ZMSCORE', key, unpack(ids, from, math.min(from + SLICE - 1, #ids)))
    for i = 1, #part do first[#first + 1] = part[i] end
  end
  return first
end

local function write_many(command, key, args)
  for from = 1, #args, SLICE do
    redis.call(command, key, unpack(args, from, math.min(from + SLICE - 1, #args)))
  end
end

local function push(t, a, b)
  t[#t + 1] = a
  t[#t + 1] = b
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

-- unlink of messages the caller found in owners (ack), one command per structure for all of them. By deliver.lua's
-- invariant a leased id is in neither ready nor delayed (every script that puts an id back into ready or delayed
-- takes it out of leases and owners first), so the two ZREMs that could find nothing are left out.
local function unlink_leased(ids)
  if #ids == 0 then return end
  write_many('ZREM', K_LEASES, ids)
  write_many('HDEL', K_OWNERS, ids)
  write_many('ZREM', K_EXPIRY, ids)
  write_many('HDEL', K_STATE, ids)
end

-- Byte accounting (max_queue_bytes): the stats field queue_bytes is the sum of the stored envelope sizes in
-- messages. Invariant: every HSET and HDEL of messages goes through store_message(s) / forget_message(s), so the
-- counter is exact whatever path a message leaves by (ack, expiry, purge); delete-channel drops the stats hash
-- with the messages. A message stored by a version without the counter was never added; the floor at 0 keeps
-- its removal from driving the counter negative.
local QUEUE_BYTES = 'queue_bytes'

local function store_message(id, envelope)
  redis.call('HSET', K_MESSAGES, id, envelope)
  redis.call('HINCRBY', K_STATS, QUEUE_BYTES, #envelope)
end

-- Many at once (ack): `bytes` the sum of the stored sizes of `ids`, which the caller has just read. One decrement
-- floored at 0 ends where one per message would: they are all decrements.
local function forget_messages(ids, bytes)
  if #ids == 0 then return end
  write_many('HDEL', K_MESSAGES, ids)
  if bytes > 0 and redis.call('HINCRBY', K_STATS, QUEUE_BYTES, -bytes) < 0 then
    redis.call('HSET', K_STATS, QUEUE_BYTES, 0)
  end
end

-- Many at once (publish): `entries` id, envelope, id, envelope...; `bytes` the sum of their sizes.
local function store_messages(entries, bytes)
  if #entries == 0 then return end
  write_many('HSET', K_MESSAGES, entries)
  redis.call('HINCRBY', K_STATS, QUEUE_BYTES, bytes)
end

local function forget_message(id)
  local size = redis.call('HSTRLEN', K_MESSAGES, id)
  if redis.call('HDEL', K_MESSAGES, id) == 1 and size > 0 then
    if redis.call('HINCRBY', K_STATS, QUEUE_BYTES, -size) < 0 then
      redis.call('HSET', K_STATS, QUEUE_BYTES, 0)
    end
  end
end

-- History (docs/history.md). hist: id -> received_ms * 1000 + sequence % 1000 (unique enough to page by score);
-- hist-rec: id -> record "state US settled_ms US dead_letter_reason US series" followed by one "RS attempt" per
-- delivery, an attempt being "series US attempt US delivered_ms US connection US connector US protocol" and, once it
-- ended, "US outcome US settled_ms US target_status US target_duration_us US error" (US = \31, RS = \30; callers strip
-- both from the strings they pass). States: W waiting, F in flight, A acked, D dead-lettered, E expired, P purged.
-- A live message (W, F, D) keeps its envelope in messages only; a settled one (A, E, P) moves it to hist-env and is
-- listed in hist-settled (score as in hist).
-- Invariant: history_bytes (stats) = sum over hist-settled of strlen(hist-env) + strlen(hist-rec); the record of a
-- settled entry changes only through hist_reopen / hist_drop, which take it out of the count first. An id is in
-- hist-rec exactly when it is in hist; entries are only ever created by publish (history on), so a message trimmed
-- from the history is never half re-listed (updates of a missing record do nothing).
local US, RS = '\31', '\30'
local HISTORY_BYTES = 'history_bytes'

-- Tail events (docs/history.md), fields separated by US: A now id envelope (accepted), R now id envelope (resent),
-- D now id attempt (delivered), S now id outcome status duration_us error attempt (settled), X now id reason (dead
-- lettered), E now id (expired). Published on the pub/sub channel named like K_TAILERS only while that key exists
-- (a replica serving a TailChannel call keeps it alive), so nobody tailing costs one EXISTS per script call.
local tail_live = nil
local function tail(...)
  if tail_live == nil then tail_live = redis.call('EXISTS', K_TAILERS) == 1 end
  if tail_live then redis.call('PUBLISH', K_TAILERS, table.concat({ ... }, US)) end
end

local function hist_split(rec)
  local head = string.match(rec, '^[^\30]*')
  local state, settled, reason, series = string.match(head, '^(%a)\31(%d*)\31([^\31]*)\31(%d+)$')
  return state, settled, reason, tonumber(series), string.sub(rec, #head + 1)
end

-- A record with its state set and `suffix` appended to its attempts.
local function hist_record(rec, state, now, reason, suffix)
  local _, settled, old_reason, series, attempts = hist_split(rec)
  if state == 'W' or state == 'F' then settled = '0' else settled = tostring(now) end
  return table.concat({ state, settled, reason or old_reason, series }, US) .. attempts .. (suffix or '')
end

-- Sets the state of a listed message and appends to its attempts; returns the new record (nil when not listed).
-- `current`: the record (false: not listed) when the caller has read it already.
local function hist_update(id, state, now, reason, suffix, current)
  local rec = current
  if rec == nil then rec = redis.call('HGET', K_HIST_REC, id) end
  if not rec then return nil end
  rec = hist_record(rec, state, now, reason, suffix)
  redis.call('HSET', K_HIST_REC, id, rec)
  return rec
end

-- The last attempt of a record ('' when none).
local function last_attempt(rec)
  if not rec then return '' end
  return string.match(rec, '\30([^\30]*)$') or ''
end

local function hist_drop(id)
  if redis.call('ZREM', K_HIST_SETTLED, id) == 1 then
    local size = redis.call('HSTRLEN', K_HIST_ENV, id) + redis.call('HSTRLEN', K_HIST_REC, id)
    if redis.call('HINCRBY', K_STATS, HISTORY_BYTES, -size) < 0 then redis.call('HSET', K_STATS, HISTORY_BYTES, 0) end
    redis.call('HDEL', K_HIST_ENV, id)
  end
  redis.call('HDEL', K_HIST_REC, id)
  redis.call('ZREM', K_HIST, id)
end

-- history_max_bytes: oldest settled entries go first (the whole entry: record and envelope). At most `limit`
-- per call; the sweep finishes a larger backlog (after the budget was lowered).
local function hist_trim(limit)
  local budget = cfg_number('history_max_bytes', 67108864)
  local held = tonumber(redis.call('HGET', K_STATS, HISTORY_BYTES) or '0')
  local dropped = 0
  while held > budget and dropped < limit do
    local oldest = redis.call('ZRANGE', K_HIST_SETTLED, 0, 0)
    if #oldest == 0 then break end
    hist_drop(oldest[1])
    dropped = dropped + 1
    held = tonumber(redis.call('HGET', K_STATS, HISTORY_BYTES) or '0')
  end
  return dropped == limit
end

-- A listed message leaves the queue for good (A acked, E expired, P purged): its envelope moves to hist-env (read
-- before forget_message deletes it) and the entry starts counting against history_max_bytes. Returns the record and
-- the envelope (nil when the message is not listed: ack.lua, which forgets many at once, then reads the size itself).
-- `current` and `score`: its record (as for hist_update) and its score in hist when the caller has read them already.
local function hist_close(id, state, now, suffix, current, score)
  local rec = hist_update(id, state, now, nil, suffix, current)
  if not rec then return nil, nil end
  local envelope = redis.call('HGET', K_MESSAGES, id)
  if envelope then
    redis.call('HSET', K_HIST_ENV, id, envelope)
    redis.call('ZADD', K_HIST_SETTLED, score or redis.call('ZSCORE', K_HIST, id), id)
    local held = redis.call('HINCRBY', K_STATS, HISTORY_BYTES, #envelope + #rec)
    if held > cfg_number('history_max_bytes', 67108864) then hist_trim(16) end
  end
  return rec, envelope
end

-- Takes a settled entry out of the byte count (it becomes live again: resend). Returns its envelope.
local function hist_reopen(id)
  if redis.call('ZREM', K_HIST_SETTLED, id) == 0 then return nil end
  local envelope = redis.call('HGET', K_HIST_ENV, id)
  local size = #(envelope or '') + redis.call('HSTRLEN', K_HIST_REC, id)
  if redis.call('HINCRBY', K_STATS, HISTORY_BYTES, -size) < 0 then redis.call('HSET', K_STATS, HISTORY_BYTES, 0) end
  redis.call('HDEL', K_HIST_ENV, id)
  return envelope
end

-- The end of the current attempt: outcome, target status, target duration (us), error.
local function attempt_end(outcome, now, status, duration_us, err)
  return table.concat({ '', outcome, now, status or 0, duration_us or '', err or '' }, US)
end

-- An attempt ended without an ack (nack, lease expiry, release): recorded, tailed; the caller decides what next.
local function attempt_failed(id, outcome, now, status, duration_us, err)
  local rec = hist_update(id, 'W', now, nil, attempt_end(outcome, now, status, duration_us, err))
  tail('S', now, id, outcome, status or 0, duration_us or '', err or '', last_attempt(rec))
end

-- Settles a message for good (acked, expired, with the history state A or E): gone everywhere, remembered in settled
-- for publish idempotency, its envelope kept by the history when it is listed. (ack.lua does the same for many
-- leased messages at once.)
local function settle(id, now, state, suffix)
  local rec = hist_close(id, state or 'A', now, suffix)
  unlink(id)
  forget_message(id)
  redis.call('ZADD', K_SETTLED, now, id)
  return rec
end

-- Invariant: a dead letter is in dlq + dlq-info + messages, and in none of ready, delayed, leases, owners,
-- expiry, state.
local function dead_letter(id, reason, err, status, now)
  local attempts, first, last = read_state(id)
  unlink(id)
  redis.call('ZADD', K_DLQ, now, id)
  redis.call('HSET', K_DLQ_INFO, id, table.concat({ reason, attempts, first, last, now, status or 0, err or '' }, '|'))
  redis.call('HINCRBY', K_STATS, 'dead_lettered_total', 1)
  hist_update(id, 'D', now, reason)
  tail('X', now, id, reason)
end

-- TTL expiry of a message that is not leased: counted, then dead-lettered or forgotten.
local function expire(id, now)
  redis.call('HINCRBY', K_STATS, 'expired_total', 1)
  if cfg_number('dead_letter_expired', 0) == 1 then
    dead_letter(id, 'EXPIRED', 'ttl expired', 0, now)
    return
  end
  settle(id, now, 'E')
  tail('E', now, id)
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
