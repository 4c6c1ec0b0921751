-- map30.lua: the benchmark's 30-field mapping hook — an HR record in one system's field names
-- mapped to Graph user properties, with the string work real hooks do (trimming, casing,
-- joining, slugs, dates).

local function trim(s)
  if s == nil then
    return nil
  end
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function title(s)
  return (s:lower():gsub("^%l", string.upper))
end

function map(event, ctx)
  local e = event.employee
  local out = {
    givenName = trim(e.first_name),
    surname = trim(e.last_name),
    displayName = trim(e.first_name) .. " " .. trim(e.last_name),
    mailNickname = weir.slug(e.first_name .. " " .. e.last_name),
    userPrincipalName = weir.slug(e.first_name .. " " .. e.last_name) .. "@" .. e.domain,
    employeeId = tostring(e.id),
    employeeType = e.employment_type == "full_time" and "Employee" or "Contractor",
    employeeHireDate = weir.date(e.start_date, "%Y-%m-%dT00:00:00Z"),
    jobTitle = trim(e.job_title),
    department = title(e.department),
    companyName = e.legal_entity,
    officeLocation = e.office.building .. " " .. e.office.room,
    streetAddress = e.address.street,
    city = e.address.city,
    state = e.address.state,
    postalCode = e.address.postal_code,
    country = e.address.country,
    usageLocation = e.address.country_code,
    mobilePhone = e.phones.mobile,
    businessPhones = { e.phones.work },
    faxNumber = e.phones.fax,
    preferredLanguage = e.locale,
    mail = e.work_email,
    otherMails = { e.personal_email },
    ageGroup = e.age_group,
    consentProvidedForMinor = e.consent,
    employeeOrgData = { division = e.division, costCenter = e.cost_center },
    onPremisesExtensionAttributes = { extensionAttribute1 = e.grade, extensionAttribute2 = e.band },
    aboutMe = ctx.run.id,
    accountEnabled = e.status == "active",
  }
  return out
end
