// The Redis store's scripts. Each runs atomically in Redis, so a list of RunOps is applied in one
// round trip and no other gateway sees it half done. The op semantics are sessions/ops.ts's, line
// for line; test/sessions/redis-store.test.ts holds both to test/sessions/store-contract.ts.
//
// Keys, under the prefix P:
//   P run:<id>        the run's record, one JSON string (expires, as a safety net, at twice the idle TTL)
//   P runs            sorted set: run id → when its latest call began (the store's clock); recency and the idle TTL
//   P on:<replica>    set of the run ids with tokens resident on that replica URL (the ledger index)
//
// Scripts reach keys they compute (legacy EVAL, standalone Redis): a Redis Cluster would need
// every key under one hash tag, which the prefix can give (`key_prefix: "{orla}:"`).

/** Helpers every script shares. ARGV[1] is the key prefix. */
const PRELUDE = `
local P = ARGV[1]
local RUNS = P .. 'runs'
-- cjson writes an empty Lua table as {}: the record's lists must stay JSON arrays. Plain finds, not
-- string.gsub: four gsubs over a record took 40 µs of Redis's CPU, more than the rest of a script.
local LISTS = { '"stages":{}', '"backends":{}', '"replicas":{}', '"cacheActions":{}' }
local function encode(r)
  local s = cjson.encode(r)
  if not string.find(s, ':{}', 1, true) then return s end
  for _, empty in ipairs(LISTS) do
    local at = string.find(s, empty, 1, true)
    while at do
      s = string.sub(s, 1, at + #empty - 3) .. '[]' .. string.sub(s, at + #empty)
      at = string.find(s, empty, at + #empty, true)
    end
  end
  return s
end
local function keys(t)
  local out = {}
  if type(t) == 'table' then for k in pairs(t) do out[k] = true end end
  return out
end
-- Drops a run from the store and its indexes, ended (as the sweep or eviction ends it); its record, encoded.
local function drop(r, now, by)
  redis.call('DEL', P .. 'run:' .. r.id)
  redis.call('ZREM', RUNS, r.id)
  for replica in pairs(keys(r.resident)) do redis.call('SREM', P .. 'on:' .. replica, r.id) end
  if r.completed == nil then r.completed = { at = now, by = by } end
  return encode(r)
end
`;

/**
 * Applies a list of ops to one run. ARGV: prefix, id, ops (JSON), create ('' | 'true' | 'false':
 * inferred), the create time, ifStartedAt ('' for none), now, idle TTL ms, max runs, key TTL ms.
 * Returns: the record after (JSON, or nil), per-op results ('1'/'0' each), the record that ended
 * because it was idle past the TTL (JSON or ''), the records evicted for room (JSON array or '').
 */
export const APPLY = `${PRELUDE}
local id = ARGV[2]
local ops = cjson.decode(ARGV[3])
local create = ARGV[4] ~= ''
local now = tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local key = P .. 'run:' .. id
local none = string.rep('0', #ops)

local raw = redis.call('GET', key)
local record = raw and cjson.decode(raw) or nil
local expired = ''
if record then
  local at = tonumber(redis.call('ZSCORE', RUNS, id))
  if at and now - at > ttl then
    -- Past its idle TTL: it ends now, as the sweep would end it. Creating, a fresh record starts;
    -- otherwise the ended record is the answer, unchanged.
    expired = drop(record, now, 'idle')
    if not create then return { expired, none, expired, '' } end
    record = nil
  end
end
if record and ARGV[6] ~= '' and record.startedAt ~= tonumber(ARGV[6]) then
  if create then drop(record, now, 'evicted') end -- replaced by the new record, as a Map.set replaces
  record = nil
end
if not record and not create then return { false, none, '', '' } end

local fresh = false
if not record then
  local at = tonumber(ARGV[5])
  record = {
    id = id, inferred = ARGV[4] == 'true', startedAt = at, lastActivity = at, stages = {}, backends = {}, replicas = {},
    calls = 0, failedCalls = 0, inFlight = 0, contextTokens = 0, contextGrowth = 0, promptTokens = 0, cachedTokens = 0,
    completionTokens = 0, costUsd = 0, inFlightOn = {}, resident = {}, unreleased = {}, deferredFlush = {}, cacheActions = {},
  }
  fresh = true
end

local residentBefore = keys(record.resident)
local touchesResident = fresh
local function tableAt(t, f)
  if type(t[f]) ~= 'table' then t[f] = {} end
  return t[f]
end
local function addUnique(list, item)
  for _, v in ipairs(list) do if v == item then return false end end
  list[#list + 1] = item
  return true
end

local results = {}
for i, op in ipairs(ops) do
  local f = op.field
  local changed = true
  if f == 'resident' then touchesResident = true end
  if op.op == 'set' then
    record[f] = op.value -- absent (undefined) clears
  elseif op.op == 'setIfUnset' then
    if record[f] ~= nil then changed = false else record[f] = op.value end
  elseif op.op == 'incr' then
    record[f] = (tonumber(record[f]) or 0) + op.by
  elseif op.op == 'add' then
    changed = addUnique(tableAt(record, f), op.value)
  elseif op.op == 'setIn' then
    tableAt(record, f)[op.key] = op.value
  elseif op.op == 'incrIn' then
    local map = tableAt(record, f)
    local value = (tonumber(map[op.key]) or 0) + op.by
    if value > 0 then map[op.key] = value else map[op.key] = nil end
  elseif op.op == 'addIn' then
    changed = addUnique(tableAt(tableAt(record, f), op.key), op.value)
  elseif op.op == 'removeIn' then
    local map = tableAt(record, f)
    local list = map[op.key]
    local at = nil
    if type(list) == 'table' then for j, v in ipairs(list) do if v == op.value then at = j break end end end
    if at == nil then
      changed = false
    else
      table.remove(list, at)
      if #list == 0 then map[op.key] = nil end
    end
  elseif op.op == 'push' then
    local list = tableAt(record, f)
    list[#list + 1] = op.value
    while #list > op.keep do table.remove(list, 1) end
  else
    return redis.error_reply('unknown run op ' .. tostring(op.op))
  end
  results[i] = changed and '1' or '0'
end

if create then redis.call('ZADD', RUNS, now, id) end -- the latest call's start: recency and the idle TTL
if touchesResident then
  local after = keys(record.resident)
  for replica in pairs(residentBefore) do if not after[replica] then redis.call('SREM', P .. 'on:' .. replica, id) end end
  for replica in pairs(after) do if not residentBefore[replica] then redis.call('SADD', P .. 'on:' .. replica, id) end end
end
local encoded = encode(record)
redis.call('SET', key, encoded, 'PX', ARGV[10])

local evicted = ''
if fresh then
  local excess = redis.call('ZCARD', RUNS) - tonumber(ARGV[9])
  if excess > 0 then
    local popped = redis.call('ZPOPMIN', RUNS, excess)
    local out = {}
    for j = 1, #popped, 2 do
      local old = redis.call('GET', P .. 'run:' .. popped[j])
      if old then out[#out + 1] = drop(cjson.decode(old), now, 'evicted') end
    end
    if #out > 0 then evicted = '[' .. table.concat(out, ',') .. ']' end
  end
end
return { encoded, table.concat(results), expired, evicted }
`;

/**
 * Ends the runs idle past the TTL, at most ARGV[4] of them: each is claimed by its removal from the
 * sorted set, so whichever gateway sweeps first ends it and no other does. ARGV: prefix, now, TTL
 * ms, batch. Returns the ended records (JSON).
 */
export const SWEEP = `${PRELUDE}
local now = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', RUNS, '-inf', '(' .. tostring(now - tonumber(ARGV[3])), 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local raw = redis.call('GET', P .. 'run:' .. id)
  redis.call('ZREM', RUNS, id)
  if raw then out[#out + 1] = drop(cjson.decode(raw), now, 'idle') end
end
return out
`;

/**
 * The live runs, most recently active first; with a tenant, only its runs (their ids begin with
 * `<tenant>/`, sessions/runs.ts's runKey, and their records name it). ARGV: prefix, now, TTL ms,
 * limit, tenant ('' for every run). Returns records (JSON).
 */
export const LIST = `
local RUNS = ARGV[1] .. 'runs'
local min = tostring(tonumber(ARGV[2]) - tonumber(ARGV[3]))
local limit = tonumber(ARGV[4])
local tenant = ARGV[5]
local out = {}
if tenant == '' then
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', RUNS, '+inf', min, 'LIMIT', 0, limit)) do
    local raw = redis.call('GET', ARGV[1] .. 'run:' .. id)
    if raw then out[#out + 1] = raw end
  end
  return out
end
-- One tenant's runs among every run: read the index a page at a time, and decode only ids of its form.
local head = tenant .. '/'
local offset = 0
while #out < limit do
  local ids = redis.call('ZREVRANGEBYSCORE', RUNS, '+inf', min, 'LIMIT', offset, 500)
  for _, id in ipairs(ids) do
    if string.sub(id, 1, #head) == head then
      local raw = redis.call('GET', ARGV[1] .. 'run:' .. id)
      if raw and cjson.decode(raw).tenant == tenant then
        out[#out + 1] = raw
        if #out >= limit then break end
      end
    end
  end
  if #ids < 500 then break end
  offset = offset + 500
end
return out
`;

/** The runs the ledger places on a replica (ids whose record is gone leave the index). ARGV: prefix, replica URL. */
export const RUNS_ON = `
local on = ARGV[1] .. 'on:' .. ARGV[2]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', on)) do
  local raw = redis.call('GET', ARGV[1] .. 'run:' .. id)
  if raw then out[#out + 1] = raw else redis.call('SREM', on, id) end
end
return out
`;
