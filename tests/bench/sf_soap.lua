-- sf_soap.lua: wrk script posting SAP SuccessFactors ExternalEvent deliveries (SOAP 1.1, basic
-- authentication, one effective termination each, ~1 KB like hr_webhook.lua's JSON), each with
-- its own externalEventId (the successfactors preset's idempotency key), so none is a duplicate.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
  prefix = string.format("%d-%d-", tid or 0, math.random(1, 1000000000))
end

local body_tmpl = [[<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<ns3:ExternalEvent xmlns:ns3="http://notification.event.successfactors.com">
<ns3:externalEventMeta><ns3:externalEventId>%s</ns3:externalEventId>
<ns3:type>com.successfactors.Employment.AssignmentInformation.Termination</ns3:type>
<ns3:publishedAt>1764950400000</ns3:publishedAt><ns3:publishedBy>admin</ns3:publishedBy>
<ns3:effective>true</ns3:effective><ns3:repost>false</ns3:repost></ns3:externalEventMeta>
<ns3:events><ns3:event><ns3:eventId>%s-e</ns3:eventId><ns3:entityType>EmpJob</ns3:entityType>
<ns3:effectiveStartDate>2026-12-01</ns3:effectiveStartDate><ns3:publishedAt>1764950400000</ns3:publishedAt>
<ns3:publishedBy>admin</ns3:publishedBy><ns3:repost>false</ns3:repost>
<ns3:entityKeys><ns3:entityKey><name>seqNumber</name><value>1</value></ns3:entityKey>
<ns3:entityKey><name>startDate</name><value>2026-12-01</value></ns3:entityKey>
<ns3:entityKey><name>userId</name><value>%d</value></ns3:entityKey></ns3:entityKeys>
<ns3:params><ns3:param><name>eventReason</name><value>TERRESIGN</value></ns3:param></ns3:params>
</ns3:event></ns3:events></ns3:ExternalEvent></soap:Body></soap:Envelope>]]

request = function()
  counter = counter + 1
  local id = prefix .. counter
  local body = string.format(body_tmpl, id, id, 100000 + counter % 1000000)
  return wrk.format("POST", "/hooks/successfactors",
    { ["Content-Type"] = "text/xml; charset=utf-8",
      ["Authorization"] = "Basic c2YtdXNlcjpzZi1wYXNz" }, body)
end
