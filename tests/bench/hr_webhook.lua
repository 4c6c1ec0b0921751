-- hr_webhook.lua: wrk script posting realistic HR "employee.hired" webhooks, each with its
-- own webhook-id (so none is a duplicate) and a body of the size HR systems send (~1 KB).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
  prefix = string.format("%d-%d-", tid or 0, math.random(1, 1000000000))
end

local body_tmpl = [[{"type":"employee.hired","delivery_id":"%s","occurred_at":"2026-11-27T07:00:00Z",
"employee":{"id":"E%06d","first_name":"José","last_name":"Núñez","preferred_name":"",
"work_email":"jose.nunez%d@contoso.onmicrosoft.com","personal_email":"jose@example.org",
"department":"Engineering","job_title":"Platform Engineer","employment_type":"full_time",
"office":"Berlin HQ","mobile":"+49 151 00000000","legal_entity":"Contoso GmbH",
"country_code":"DE","start_date":"2026-12-01","manager_email":"megan.bowen@contoso.onmicrosoft.com",
"cost_center":"CC-4711","division":"R&D","grade":"E5","location":{"city":"Berlin","country":"Germany"}}}]]

request = function()
  counter = counter + 1
  local id = prefix .. counter
  local body = string.format(body_tmpl, id, counter % 1000000, counter)
  return wrk.format("POST", "/hooks/hr",
    { ["Content-Type"] = "application/json", ["webhook-id"] = id }, body)
end
