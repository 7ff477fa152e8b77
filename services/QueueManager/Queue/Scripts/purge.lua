-- Delete dead letters for good: ARGV 1 chunk size for 'all' (the oldest N) or '0' for the ids in 2..
-- Returns { purged_count, not_found_id1, ... }.
-- Purged ids are remembered as settled, so a late replay of their publish is not queued again; the history keeps
-- them (state P) with their envelope.
local now = now_ms()
local ids
if ARGV[1] ~= '0' then
  ids = redis.call('ZRANGE', K_DLQ, 0, tonumber(ARGV[1]) - 1)
else
  ids = {}
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local out = { 0 }
for _, id in ipairs(ids) do
  if redis.call('ZREM', K_DLQ, id) == 1 then
    redis.call('HDEL', K_DLQ_INFO, id)
    hist_close(id, 'P', now)
    forget_message(id)
    redis.call('ZADD', K_SETTLED, now, id)
    out[1] = out[1] + 1
  else
    out[#out + 1] = id
  end
end
return out
