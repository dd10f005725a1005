-- One partition's memberships folded into overlap figures, read in one step.
-- KEYS[1]: the partition's offset key. ARGV[1]: prefix; ARGV[2]: N, list up to 5 contacts in
-- more than N segments.
-- Returns {offset or false, {segment ids}, {i, j, intersection, ...} (1-based indexes into the
-- ids, i < j, pairs with no common member left out), {k, contacts in exactly k segments, ...},
-- {contacts in more than N segments, up to 5}, {segment sizes as field, value...}}; sizes and
-- members come from the same step, so they agree.
-- It walks every member of the partition, so it blocks Redis for about 1 s per million members
-- of the partition: health is asked for by people and dashboards, not per request.
local pre = ARGV[1]
local most = tonumber(ARGV[2])
local ids = {}
local sizes = redis.call('HGETALL', pre .. 'n')
for i = 1, #sizes, 2 do
  local name = sizes[i]
  if string.sub(name, -2) ~= ':h' and tonumber(sizes[i + 1]) > 0 then
    ids[#ids + 1] = name
  end
end
table.sort(ids)
local of = {}
for index, seg in ipairs(ids) do
  for _, bound in ipairs(redis.call('ZRANGE', pre .. 'i:' .. seg, 0, -1)) do
    for _, contact in ipairs(redis.call('ZRANGE', pre .. 'm:' .. seg .. ':' .. bound, 0, -1)) do
      local list = of[contact]
      if list then
        list[#list + 1] = index
      else
        of[contact] = {index}
      end
    end
  end
end
local pairs_ = {}
local histogram = {}
local over = {}
for contact, list in pairs(of) do
  local k = #list
  histogram[k] = (histogram[k] or 0) + 1
  if k > most and #over < 5 then
    over[#over + 1] = contact
  end
  for a = 1, k - 1 do
    for b = a + 1, k do
      -- `list` is in segment order: each contact was appended segment by segment.
      local key = list[a] * 65536 + list[b]
      pairs_[key] = (pairs_[key] or 0) + 1
    end
  end
end
local flat = {}
for key, count in pairs(pairs_) do
  flat[#flat + 1] = math.floor(key / 65536)
  flat[#flat + 1] = key % 65536
  flat[#flat + 1] = count
end
local hist = {}
for k, count in pairs(histogram) do
  hist[#hist + 1] = k
  hist[#hist + 1] = count
end
return {redis.call('GET', KEYS[1]), ids, flat, hist, over, sizes}
