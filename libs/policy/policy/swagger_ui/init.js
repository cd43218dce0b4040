// Starts Swagger UI on the /docs page (policy.apidocs): its settings are data
// attributes of #swagger-ui, so the page needs no inline script.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    oauth2RedirectUrl: window.location.origin + root.dataset.oauth2Redirect,
    showCommonExtensions: true,
    syntaxHighlight: { activated: false },
    tryItOutEnabled: false,
    validatorUrl: null
  });
  window.ui.initOAuth({ usePkceWithAuthorizationCodeGrant: true });
})();
