// The incident form's location map: show the point, set it by clicking. Works without tiles (offline).
(function () {
  "use strict";
  var mapElement = document.getElementById("location-map");
  var form = document.querySelector("form.incident-form");
  if (form && form.dataset.focus) {
    var target = document.getElementById(form.dataset.focus);
    if (target) { target.scrollIntoView(); }
  }
  if (!mapElement || typeof L === "undefined") { return; }
  var lat = document.getElementById("latitude");
  var lon = document.getElementById("longitude");
  mapElement.hidden = false;
  var map = L.map(mapElement, { worldCopyJump: true });
  var tileUrl = mapElement.dataset.tileUrl;
  if (tileUrl) {
    L.tileLayer(tileUrl, { attribution: mapElement.dataset.tileAttribution, maxZoom: 18 }).addTo(map);
  }
  var marker = null;
  function current() {
    var y = parseFloat(lat.value), x = parseFloat(lon.value);
    if (isFinite(y) && isFinite(x) && Math.abs(y) <= 90 && Math.abs(x) <= 180) { return [y, x]; }
    return null;
  }
  function show() {
    var point = current();
    if (!point) { map.setView([0, 0], 1); return; }
    if (marker) { marker.setLatLng(point); } else { marker = L.circleMarker(point, { radius: 7 }).addTo(map); }
    map.setView(point, Math.max(map.getZoom() || 0, 8));
  }
  map.on("click", function (event) {
    lat.value = event.latlng.lat.toFixed(5);
    lon.value = L.Util.wrapNum(event.latlng.lng, [-180, 180], true).toFixed(5);
    show();
  });
  lat.addEventListener("change", show);
  lon.addEventListener("change", show);
  show();
})();
