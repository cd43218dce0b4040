/* Every <time datetime="..."> element with a time of day shows in the viewer's own
   time zone (the server wrote a readable UTC text, kept as the element's title).
   A date without a time is left as it is. No inline script: served from /static. */
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short"
  });
  function localize(root) {
    var elements = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < elements.length; i++) {
      var element = elements[i];
      var value = element.getAttribute("datetime");
      if (value.indexOf("T") < 0 || element.hasAttribute("data-local")) { continue; }
      var moment = new Date(value);
      if (isNaN(moment.getTime())) { continue; }
      element.title = element.textContent;
      element.textContent = format.format(moment);
      element.setAttribute("data-local", "");
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localize(document); });
  } else {
    localize(document);
  }
})();
