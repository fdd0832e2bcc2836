-- wrk script for bench_crud.py: one operation mix per run, chosen by the MODE env var.
-- Seeded ids: bench-r-<1..SEEDED> (read/update targets) and bench-d-<1..SEEDED> (delete targets).
local mode = os.getenv("MODE") or "read"
local seeded = tonumber(os.getenv("SEEDED") or "1000")
local body = '{"resourceType":"Patient","name":[{"family":"Bench","given":["Load"]}],"birthDate":"1970-01-01","gender":"female"}'
local token = os.getenv("TOKEN")
local json = { ["Content-Type"] = "application/fhir+json" }
local plain = {}
if token and token ~= "" then
  json["Authorization"] = "Bearer " .. token
  plain["Authorization"] = "Bearer " .. token
end

local function put(id)
  local b = '{"resourceType":"Patient","id":"' .. id .. '","name":[{"family":"Bench","given":["Upd' .. math.random(1000000) .. '"]}],"gender":"male"}'
  return wrk.format("PUT", "/fhir/Patient/" .. id, json, b)
end

local ops = {
  read = function() return wrk.format("GET", "/fhir/Patient/bench-r-" .. math.random(seeded), plain) end,
  create = function() return wrk.format("POST", "/fhir/Patient", json, body) end,
  update = function() return put("bench-r-" .. math.random(seeded)) end,
  delete = function() return wrk.format("DELETE", "/fhir/Patient/bench-d-" .. math.random(seeded), plain) end,
}

-- Mixed CRUD: 50% read, 20% create, 20% update, 10% delete.
local function mixed()
  local r = math.random(100)
  if r <= 50 then return ops.read() elseif r <= 70 then return ops.create()
  elseif r <= 90 then return ops.update() else return ops.delete() end
end

function setup(thread) thread:set("id", math.random(1000000)) end
function init(args) math.randomseed(os.time() + id) end
function request() if mode == "mixed" then return mixed() end return ops[mode]() end
