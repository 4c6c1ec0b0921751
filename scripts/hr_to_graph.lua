-- hr_to_graph.lua: the onboarding example's field-mapping hook.
--
-- weir calls map(event, ctx) with the HR system's webhook body as `event` (its `employee`
-- record in the shape most HR systems post) and uses the returned table as steps.fields:
--   fields.create  - properties for create-user (a new account)
--   fields.profile - properties update-user keeps in line with HR (only differences are written)
-- Change the names on the left of each line to your HR system's fields.

local function nonempty(s)
  if s == nil or s == "" then
    return nil
  end
  return s
end

function map(event, ctx)
  local e = event.employee
  local display = nonempty(e.preferred_name) or (e.first_name .. " " .. e.last_name)

  local profile = {
    givenName = e.first_name,
    surname = e.last_name,
    displayName = display,
    jobTitle = nonempty(e.job_title),
    department = nonempty(e.department),
    employeeId = tostring(e.id),
    employeeType = e.employment_type == "full_time" and "Employee" or "Contractor",
    officeLocation = nonempty(e.office),
    mobilePhone = nonempty(e.mobile),
    companyName = nonempty(e.legal_entity),
    usageLocation = nonempty(e.country_code),
  }
  if e.start_date then
    profile.employeeHireDate = e.start_date .. "T00:00:00Z"
  end

  local nickname = (e.work_email:match("^([^@]+)@")) or tostring(e.id)
  local create = {
    userPrincipalName = e.work_email,
    mail = e.work_email,
    mailNickname = nickname,
    displayName = display,
    employeeId = tostring(e.id),
    accountEnabled = true,
  }

  return { create = create, profile = profile }
end
