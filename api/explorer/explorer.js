// Starts GraphiQL against this server. Loaded as a file (never inline) so the
// page's Content-Security-Policy needs no 'unsafe-inline'.
(function () {
  "use strict";

  var endpoint = window.location.origin + "/graphql";
  var socketEndpoint =
    (window.location.protocol === "https:" ? "wss://" : "ws://") +
    window.location.host +
    "/graphql/ws";

  var defaultQuery = [
    "# Fluxorae API explorer.",
    "#",
    "# Anonymous callers see public data only. To act as a user, sign in",
    "# (POST /auth/login, or the `login` mutation) and put the access token",
    "# in the Headers tab below:",
    '#   { "Authorization": "Bearer <accessToken>" }',
    "# Partners can paste an API key the same way. Subscriptions use the same",
    "# header for the websocket's connection_init.",
    "",
    "query Me {",
    "  me {",
    "    id",
    "    email",
    "    role",
    "  }",
    "}",
    "",
  ].join("\n");

  // One websocket client per Authorization value: changing the header in the
  // editor opens a new connection carrying the new credentials.
  var current = { authorization: null, socket: null, fetch: null };

  function fetcherFor(authorization) {
    if (current.fetch && current.authorization === authorization) {
      return current.fetch;
    }
    if (current.socket) {
      current.socket.dispose();
    }
    current.authorization = authorization;
    current.socket = graphqlWs.createClient({
      url: socketEndpoint,
      lazy: true,
      connectionParams: authorization ? { authorization: authorization } : {},
    });
    current.fetch = GraphiQL.createFetcher({
      url: endpoint,
      wsClient: current.socket,
    });
    return current.fetch;
  }

  function fetcher(params, options) {
    var headers = (options && options.headers) || {};
    var authorization = headers.Authorization || headers.authorization || "";
    return fetcherFor(authorization)(params, options);
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // Tokens stay in memory: a shared browser must not keep them.
      shouldPersistHeaders: false,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    })
  );
})();
