-- The next ARGV[1] waiting messages in delivery order, without taking them.
-- Returns { id, envelope, attempts, expires_ms, ... }.
local ids = redis.call('ZRANGE', K_READY, 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local envelope = redis.call('HGET', K_MESSAGES, id)
  if envelope then
    local attempts = read_state(id)
    out[#out + 1] = id
    out[#out + 1] = envelope
    out[#out + 1] = attempts
    out[#out + 1] = redis.call('ZSCORE', K_EXPIRY, id) or '0'
  end
end
return out
