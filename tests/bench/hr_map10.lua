-- hr_map10.lua: the mapping hook of the end-to-end benchmark (scripts/bench, "end to end
-- against a peer"): ten HR fields -> ten Graph user properties. The Node-RED peer's function
-- node (tests/bench/nodered/flows.json) maps the same fields the same way.

function map(event, ctx)
  local e = event.employee
  return {
    user = e.work_email,
    profile = {
      givenName = e.first_name,
      surname = e.last_name,
      displayName = e.first_name .. " " .. e.last_name,
      jobTitle = e.job_title,
      department = e.department,
      employeeId = e.id,
      officeLocation = e.office,
      mobilePhone = e.mobile,
      companyName = e.legal_entity,
      usageLocation = e.country_code,
    },
  }
end
