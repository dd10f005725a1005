-- Apply one batch of change messages of one partition, and its offset, atomically.
-- KEYS[1]: the partition's offset key; every other key shares its hash tag (one cluster slot).
-- ARGV: prefix (e.g. "{segstream:p7}:"), last offset of the batch, invalid messages skipped,
-- the offset the caller believes is stored (-1: none), the goals of the segments that have
-- one ("" for none; "SEGMENT|s|STAGE,LATER,...|WITHIN_US;SEGMENT|g|TARGET|WITHIN_US;..."),
-- then 5 values per change: contact, seq,
-- op ("+" entered, "-" exited, "L" stage), segment or stage ("" = no stage), value
-- (entered: 2 * since_us + holdout; exited and stage: at in microseconds, "" if unknown).
-- It also keeps the history (docs/serving.md): per minute and hour bucket of `at`, per
-- segment entries, exits and flaps (an exit within FLAP_US of the entry), and stage moves;
-- all-time entries per segment; the contacts per stage and the moves between stages.
-- And the lift records (docs/serving.md, "Lift"): per segment with a goal, each contact's
-- first entry (`lf:SEGMENT`) and, per group, entered and converted counts (`lc`).
-- Returns {applied, redelivered, gap details...}; a gap detail is "contact seq stored".
-- Returns {-1} and changes nothing when the stored offset is behind the caller's belief (Redis
-- lost writes: the caller must resume from what is stored), {-2} when the batch is already in.
local pre = ARGV[1]
local last = tonumber(ARGV[2])
local stored_offset = tonumber(redis.call('GET', KEYS[1]) or '-1')
if stored_offset < tonumber(ARGV[4]) then
  return {-1}
end
if stored_offset >= last then
  return {-2}
end
local LEAF = 120 -- members per bucket; below zset-max-listpack-entries (128) so buckets stay compact
local HALF = 60

local function bucket(seg, bound)
  return pre .. 'm:' .. seg .. ':' .. bound
end

-- The bucket holding `contact`: the one with the greatest lower bound <= contact.
local function bound_of(index, contact)
  local found = redis.call('ZRANGE', index, '[' .. contact, '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)
  return found[1]
end

local function add_member(seg, contact)
  local index = pre .. 'i:' .. seg
  local bound = bound_of(index, contact)
  if not bound then
    bound = ''
    redis.call('ZADD', index, 0, bound)
  end
  local key = bucket(seg, bound)
  redis.call('ZADD', key, 0, contact)
  if redis.call('ZCARD', key) > LEAF then
    local upper = redis.call('ZRANGE', key, HALF, -1)
    local moved = {}
    for _, member in ipairs(upper) do
      moved[#moved + 1] = 0
      moved[#moved + 1] = member
    end
    redis.call('ZADD', bucket(seg, upper[1]), unpack(moved))
    redis.call('ZREMRANGEBYRANK', key, HALF, -1)
    redis.call('ZADD', index, 0, upper[1])
  end
end

local function remove_member(seg, contact)
  local index = pre .. 'i:' .. seg
  local bound = bound_of(index, contact)
  if not bound then
    return
  end
  local key = bucket(seg, bound)
  redis.call('ZREM', key, contact)
  local left = redis.call('ZCARD', key)
  if left == 0 and bound ~= '' then
    redis.call('ZREM', index, bound)
    return
  end
  if left >= HALF / 2 then
    return
  end
  -- An underfull bucket takes in its successor when both fit in half a bucket, so that
  -- churn cannot leave many near-empty buckets behind.
  local after = redis.call('ZRANGE', index, '(' .. bound, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
  if not after then
    return
  end
  local next_key = bucket(seg, after)
  if left + redis.call('ZCARD', next_key) > HALF then
    return
  end
  local members = redis.call('ZRANGE', next_key, 0, -1)
  local moved = {}
  for _, member in ipairs(members) do
    moved[#moved + 1] = 0
    moved[#moved + 1] = member
  end
  if #moved > 0 then
    redis.call('ZADD', key, unpack(moved))
  end
  redis.call('DEL', next_key)
  redis.call('ZREM', index, after)
end

local function held(value)
  return string.byte(value, -1) % 2 == 1 -- odd: 2 * since + 1
end

-- A late copy of a missing seq: take it out of the contact's open gap ranges ("a-b,c-d").
local function fill_gap(ckey, contact, seq)
  local ranges = redis.call('HGET', ckey, 'GAPS')
  if not ranges then
    return 0
  end
  local kept, filled = {}, 0
  for a, b in string.gmatch(ranges, '(%d+)-(%d+)') do
    a, b = tonumber(a), tonumber(b)
    if seq >= a and seq <= b then
      filled = 1
      if a < seq then kept[#kept + 1] = a .. '-' .. (seq - 1) end
      if seq < b then kept[#kept + 1] = (seq + 1) .. '-' .. b end
    else
      kept[#kept + 1] = a .. '-' .. b
    end
  end
  if #kept == 0 then
    redis.call('HDEL', ckey, 'GAPS')
    redis.call('ZREM', pre .. 'g', contact)
  else
    redis.call('HSET', ckey, 'GAPS', table.concat(kept, ','))
  end
  return filled
end

local sizes = pre .. 'n'
local FLAP_US = 3600 * 1000000 -- an exit within an hour of the entry is a flap
local BUCKETS = {{'hm', 60 * 1000000, 1440}, {'hh', 3600 * 1000000, 840}} -- 24 h, 35 days
local history = {} -- bucket key -> field -> increment
local touched = {} -- index key -> bucket start -> true
local entries = {} -- segment -> entries in this batch, for the all-time totals

local function note(at_us, field, amount)
  for _, b in ipairs(BUCKETS) do
    local start = math.floor(at_us / b[2])
    local key = pre .. b[1] .. ':' .. start
    local fields = history[key]
    if not fields then
      fields = {}
      history[key] = fields
      touched[pre .. b[1]] = touched[pre .. b[1]] or {}
      touched[pre .. b[1]][start] = true
    end
    fields[field] = (fields[field] or 0) + amount
  end
end

-- Lift: goals by segment, and the segments whose goal an event of a stage or segment is.
local goals, on_stage, on_segment = {}, {}, {}
for seg, kind, targets, within in string.gmatch(ARGV[5], '([^|;]+)|([sg])|([^|;]+)|(%d+)') do
  local goal = {kind = kind, within = tonumber(within), targets = {}}
  local by = kind == 's' and on_stage or on_segment
  for target in string.gmatch(targets, '[^,]+') do
    goal.targets[target] = true
    by[target] = by[target] or {}
    table.insert(by[target], seg)
  end
  goals[seg] = goal
end
local lift = pre .. 'lc'

-- A first entry into a segment with a goal: the contact joins its group's cohort, unless it
-- has already reached the goal ("a": counted apart, it cannot convert again).
local function lift_enter(ckey, contact, seg, value)
  local goal = goals[seg]
  local key = pre .. 'lf:' .. seg
  if redis.call('HEXISTS', key, contact) == 1 then
    return
  end
  local reached
  if goal.kind == 's' then
    reached = goal.targets[redis.call('HGET', ckey, 'STAGE') or ''] ~= nil
  else
    local target = next(goal.targets)
    reached = redis.call('HEXISTS', ckey, target) == 1
  end
  if reached then
    redis.call('HSET', key, contact, 'a')
    redis.call('HINCRBY', lift, seg .. ':a', 1)
  else
    redis.call('HSET', key, contact, value)
    redis.call('HINCRBY', lift, seg .. ':n' .. (held(value) and '1' or '0'), 1)
  end
end

-- The contact reached the goal of each segment in `segs` at `at_us`: converted when within
-- the goal's window of its entry; a window already over closes the record ("x").
local function lift_reach(contact, segs, at_us)
  for _, seg in ipairs(segs) do
    local key = pre .. 'lf:' .. seg
    local entry = tonumber(redis.call('HGET', key, contact) or '')
    if entry then
      local since = math.floor(entry / 2)
      if at_us - since > goals[seg].within then
        redis.call('HSET', key, contact, 'x')
      elseif at_us >= since then
        redis.call('HSET', key, contact, 'c')
        redis.call('HINCRBY', lift, seg .. ':c' .. (entry % 2 == 1 and '1' or '0'), 1)
      end
    end
  end
end

local applied, redelivered, filled = 0, 0, 0
local result = {0, 0}
for i = 6, #ARGV, 5 do
  local contact, seq, op, name, value = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local ckey = pre .. 'c:' .. contact
  local stored = tonumber(redis.call('HGET', ckey, 'SEQ') or '0')
  if seq <= stored then
    redelivered = redelivered + 1
    filled = filled + fill_gap(ckey, contact, seq)
  else
    if seq > stored + 1 then
      local gap = (stored + 1) .. '-' .. (seq - 1)
      local ranges = redis.call('HGET', ckey, 'GAPS')
      redis.call('HSET', ckey, 'GAPS', ranges and (ranges .. ',' .. gap) or gap)
      redis.call('ZADD', pre .. 'g', 0, contact)
      result[#result + 1] = contact .. ' ' .. seq .. ' ' .. stored
    end
    if op == 'L' then
      local was = redis.call('HGET', ckey, 'STAGE') or ''
      if name == '' then
        redis.call('HDEL', ckey, 'STAGE')
      else
        redis.call('HSET', ckey, 'STAGE', name)
      end
      if was ~= name then
        if was ~= '' then redis.call('HINCRBY', pre .. 'st', was, -1) end
        if name ~= '' then redis.call('HINCRBY', pre .. 'st', name, 1) end
        redis.call('HINCRBY', pre .. 'mv', was .. '>' .. name, 1)
        if value ~= '' then note(tonumber(value), 'L:' .. was .. '>' .. name, 1) end
        if value ~= '' and on_stage[name] then lift_reach(contact, on_stage[name], tonumber(value)) end
      end
    else
      local old = redis.call('HGET', ckey, name)
      if op == '+' then
        redis.call('HSET', ckey, name, value)
        if not old then
          add_member(name, contact)
          redis.call('HINCRBY', sizes, name, 1)
          note(math.floor(tonumber(value) / 2), name .. ':e', 1)
          entries[name] = (entries[name] or 0) + 1
          if goals[name] then lift_enter(ckey, contact, name, value) end
          if on_segment[name] then
            lift_reach(contact, on_segment[name], math.floor(tonumber(value) / 2))
          end
        end
        local delta = (held(value) and 1 or 0) - ((old and held(old)) and 1 or 0)
        if delta ~= 0 then
          redis.call('HINCRBY', sizes, name .. ':h', delta)
        end
      elseif old then
        redis.call('HDEL', ckey, name)
        remove_member(name, contact)
        redis.call('HINCRBY', sizes, name, -1)
        if value ~= '' then
          local at = tonumber(value)
          note(at, name .. ':x', 1)
          if at - math.floor(tonumber(old) / 2) < FLAP_US then
            note(at, name .. ':f', 1)
          end
        end
        if held(old) then
          redis.call('HINCRBY', sizes, name .. ':h', -1)
        end
      end
    end
    redis.call('HSET', ckey, 'SEQ', seq)
    applied = applied + 1
  end
end
for key, fields in pairs(history) do
  for field, amount in pairs(fields) do
    redis.call('HINCRBY', key, field, amount)
  end
end
for name, count in pairs(entries) do
  redis.call('HINCRBY', pre .. 'te', name, count)
end
-- Bounded retention, by the newest bucket seen (event time, so a replay of old data keeps it).
for _, b in ipairs(BUCKETS) do
  local index = pre .. b[1]
  if touched[index] then
    local added = {}
    for start in pairs(touched[index]) do
      added[#added + 1] = start
      added[#added + 1] = start
    end
    redis.call('ZADD', index, unpack(added))
    local newest = tonumber(redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2])
    local old = redis.call('ZRANGE', index, '-inf', newest - b[3], 'BYSCORE')
    for _, start in ipairs(old) do
      redis.call('DEL', index .. ':' .. start)
    end
    if #old > 0 then
      redis.call('ZREMRANGEBYSCORE', index, '-inf', newest - b[3])
    end
  end
end
local stats = pre .. 'x'
local gaps = #result - 2
redis.call('HINCRBY', stats, 'applied', applied)
if redelivered > 0 then redis.call('HINCRBY', stats, 'redelivered', redelivered) end
if filled > 0 then redis.call('HINCRBY', stats, 'filled', filled) end
if gaps > 0 then redis.call('HINCRBY', stats, 'gaps', gaps) end
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', stats, 'invalid', ARGV[3]) end
redis.call('SET', KEYS[1], ARGV[2])
result[1], result[2] = applied, redelivered
return result
