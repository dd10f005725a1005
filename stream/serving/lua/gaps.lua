-- One partition's contacts with open gaps after a cursor, with their seq and missing ranges.
-- KEYS[1]: the partition's offset key. ARGV: prefix, after ("" = from the start), limit.
-- Returns {offset or false, contact, seq, ranges, contact, seq, ranges, ...}.
local pre, after, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local low = after == '' and '-' or '(' .. after
local out = {redis.call('GET', KEYS[1])}
for _, contact in ipairs(redis.call('ZRANGE', pre .. 'g', low, '+', 'BYLEX', 'LIMIT', 0, limit)) do
  local fields = redis.call('HMGET', pre .. 'c:' .. contact, 'SEQ', 'GAPS')
  out[#out + 1] = contact
  out[#out + 1] = fields[1] or '0'
  out[#out + 1] = fields[2] or ''
end
return out
