-- m365_user_csv.lua: one row of the Microsoft 365 admin center's user template CSV -> the
-- Graph user properties update-user should bring in line.
--
-- An empty cell means "leave as is" (as in the admin center's bulk update), so only filled
-- cells are returned. Fax is left out: Graph does not let an application write faxNumber.

local columns = {
  ["First Name"] = "givenName",
  ["Last Name"] = "surname",
  ["Display Name"] = "displayName",
  ["Job Title"] = "jobTitle",
  ["Department"] = "department",
  ["Office Number"] = "officeLocation",
  ["Mobile Phone"] = "mobilePhone",
  ["Address"] = "streetAddress",
  ["City"] = "city",
  ["State or Province"] = "state",
  ["ZIP or Postal Code"] = "postalCode",
  ["Country or Region"] = "country",
}

local function filled(s)
  return s ~= nil and s:match("%S") ~= nil
end

function map(event, ctx)
  local row = event.row
  local set = {}
  for column, property in pairs(columns) do
    if filled(row[column]) then
      set[property] = row[column]
    end
  end
  if filled(row["Office Phone"]) then
    set.businessPhones = { row["Office Phone"] }      -- Graph allows one business phone
  end
  if filled(row["Alternate email address"]) then
    set.otherMails = { row["Alternate email address"] }
  end
  return { user = row["User Name"], set = set }
end
