-- One partition's members of a segment after a cursor, in contact-id order, with its offset.
-- KEYS[1]: the partition's offset key. ARGV: prefix, segment, after ("" = from the start), limit.
-- Returns {offset or false, member...}.
local pre, seg, after, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local index = pre .. 'i:' .. seg
local out = {redis.call('GET', KEYS[1])}
local bound
if after == '' then
  bound = redis.call('ZRANGE', index, '-', '+', 'BYLEX', 'LIMIT', 0, 1)[1]
else
  bound = redis.call('ZRANGE', index, '[' .. after, '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
end
local low = after == '' and '-' or '(' .. after
while bound and #out - 1 < limit do
  local members = redis.call(
    'ZRANGE', pre .. 'm:' .. seg .. ':' .. bound, low, '+', 'BYLEX', 'LIMIT', 0, limit - (#out - 1)
  )
  for _, member in ipairs(members) do
    out[#out + 1] = member
  end
  bound = redis.call('ZRANGE', index, '(' .. bound, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
end
return out
