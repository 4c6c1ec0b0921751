// Node-RED settings for the end-to-end benchmark's peer (scripts/bench, tests/bench/peer.py).
// Started as: node red.js --settings this-file --userDir TMP --port PORT TMP/flows.json
// No editor and no admin API; the only HTTP routes are the flow's `http in` nodes.
module.exports = {
    uiHost: "127.0.0.1",
    httpAdminRoot: false,
    httpNodeRoot: "/",
    httpStatic: false,
    disableEditor: true,
    credentialSecret: false,
    flowFilePretty: false,
    logging: {
        console: { level: "warn", metrics: false, audit: false },
    },
    // The function node reads GRAPH_BASE and GRAPH_TOKEN with env.get().
    functionExternalModules: false,
    functionGlobalContext: {},
    exportGlobalContextKeys: false,
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
};
