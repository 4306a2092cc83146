// The map's data: folium built the map and its layers (served as /map.js); this script fills them with
// GeoJSON from /map/data.geojson for the visible area, and plays the incidents over time.
// Every text from the database is put on the page with textContent: never innerHTML, never a template.
(function () {
  "use strict";
  var element = document.querySelector("[data-incident-map]");
  if (!element || typeof L === "undefined") { return; }
  var map = window[element.dataset.mapVar];
  var incidentsGroup = window[element.dataset.incidentsVar];
  var cluster = window[element.dataset.clusterVar];
  var counts = window[element.dataset.countsVar];
  var heat = window[element.dataset.heatVar];
  if (!map || !cluster || !counts) { return; }

  var inView = document.getElementById("in-view");
  var inViewTotals = document.getElementById("in-view-totals");
  var filterQuery = element.dataset.filterQuery || "";
  var request = null;
  var timer = null;
  var period = null; // {from: "YYYY-MM-DD", to: "YYYY-MM-DD"} while the time slider narrows the dates

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function figure(low, high) {
    return low === high ? low.toLocaleString("en") : low.toLocaleString("en") + "–" + high.toLocaleString("en");
  }

  function casualtyItems(list, casualties) {
    casualties.forEach(function (c) {
      var item = make("li");
      item.appendChild(make("span", "label", c.label.charAt(0).toUpperCase() + c.label.slice(1) + ": "));
      item.appendChild(document.createTextNode(figure(c.low, c.high)));
      list.appendChild(item);
    });
  }

  // An area circle never drawn smaller than the incident's marker would be: at a world view a 25 km circle
  // is less than a pixel, yet it must stay visible (and still read as an area, by its dashed outline).
  var AreaCircle = L.Circle.extend({
    _project: function () {
      L.Circle.prototype._project.call(this);
      var least = this.options.minPixelRadius || 0;
      if (this._radius < least) {
        this._radius = least;
        this._radiusY = least;
        this._updateBounds();
      }
    }
  });

  function popupFor(p) {
    var box = make("div", "incident-popup");
    var heading = make("h3");
    var link = make("a", null, p.title);
    link.href = p.url;
    heading.appendChild(link);
    box.appendChild(heading);
    box.appendChild(make("p", "when", p.date_label + " (date: " + p.date_precision_label + ")"));
    box.appendChild(make("p", "where", p.place));
    box.appendChild(make("p", "precision", p.precision_note));
    if (p.types.length) { box.appendChild(make("p", "types", p.types.join(", "))); }
    if (p.casualties.length) {
      var list = make("ul", "casualties");
      casualtyItems(list, p.casualties);
      box.appendChild(list);
    } else {
      box.appendChild(make("p", "muted", "No casualty figures recorded."));
    }
    var sources = p.source_count === 1 ? "1 source" : p.source_count + " sources";
    box.appendChild(make("p", "grade", "Verification: " + p.verification_label + " · " + sources));
    var more = make("a", "more", "Incident page: sources, claims and citation");
    more.href = p.url;
    box.appendChild(more);
    return box;
  }

  function tooltipFor(text, detail) {
    var box = make("div", "incident-tooltip");
    box.appendChild(make("strong", null, text));
    if (detail) { box.appendChild(make("span", null, " · " + detail)); }
    return box;
  }

  function incidentLayer(feature) {
    var p = feature.properties;
    var where = L.latLng(feature.geometry.coordinates[1], feature.geometry.coordinates[0]);
    var layer;
    if (p.location_precision === "exact") {
      layer = L.circleMarker(where, {
        radius: p.radius_px, color: "#222", weight: 1, fillColor: p.colour, fillOpacity: 0.9
      });
    } else {
      layer = new AreaCircle(where, {
        radius: p.uncertainty_m, minPixelRadius: p.radius_px, color: p.colour, weight: 2,
        dashArray: "5 4", fillColor: p.colour, fillOpacity: 0.18
      });
    }
    layer.bindPopup(function () { return popupFor(p); }, { maxWidth: 320 });
    layer.bindTooltip(tooltipFor(p.title, p.date_label));
    return layer;
  }

  function countLayer(feature) {
    var p = feature.properties;
    var where = L.latLng(feature.geometry.coordinates[1], feature.geometry.coordinates[0]);
    var size = p.count < 10 ? "small" : (p.count < 1000 ? "medium" : "large");
    var label = make("div");
    label.appendChild(make("span", null, p.count.toLocaleString("en")));
    var marker = L.marker(where, {
      icon: L.divIcon({ html: label, className: "marker-cluster marker-cluster-" + size + " area-count", iconSize: [44, 44] }),
      keyboard: true,
      title: p.count + " incidents"
    });
    var detail = p.casualties.map(function (c) { return c.label + " " + figure(c.low, c.high); }).join("; ");
    marker.bindTooltip(tooltipFor(p.count.toLocaleString("en") + " incidents", detail));
    marker.on("click", function () {
      var b = p.bounds;
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    });
    return marker;
  }

  function wrap(longitude) {
    return ((longitude + 180) % 360 + 360) % 360 - 180;
  }

  function visibleBox() {
    var bounds = map.getBounds();
    var west = bounds.getWest(), east = bounds.getEast();
    var south = Math.max(bounds.getSouth(), -90), north = Math.min(bounds.getNorth(), 90);
    if (east - west >= 360) { west = -180; east = 180; } else { west = wrap(west); east = wrap(east); }
    return [west, south, east, north].map(function (v) { return v.toFixed(5); }).join(",");
  }

  function query() {
    var params = new URLSearchParams(filterQuery);
    if (period) {
      params.set("date_from", period.from);
      params.set("date_to", period.to);
    }
    params.set("bbox", visibleBox());
    params.set("zoom", String(map.getZoom()));
    return params.toString();
  }

  function show(collection) {
    cluster.clearLayers();
    counts.clearLayers();
    var incidents = [], heatPoints = [], most = 1;
    collection.features.forEach(function (feature) {
      var c = feature.geometry.coordinates;
      if (feature.properties.kind === "cluster") {
        counts.addLayer(countLayer(feature));
        heatPoints.push([c[1], c[0], feature.properties.count]);
        most = Math.max(most, feature.properties.count);
      } else {
        incidents.push(incidentLayer(feature));
        heatPoints.push([c[1], c[0], 1]);
      }
    });
    cluster.addLayers(incidents);
    if (heat) {
      heat.setOptions({ max: most });
      heat.setLatLngs(heatPoints);
    }
    var n = collection.count;
    var text = n.toLocaleString("en") + (n === 1 ? " incident" : " incidents") + " in this view";
    if (period) { text += ", " + period.label; }
    if (collection.aggregated) { text += " (counted per area: zoom in to see each incident)"; }
    inView.textContent = text + ".";
    inViewTotals.textContent = "";
    casualtyItems(inViewTotals, collection.casualties);
    exportInView(collection);
    element.dataset.loaded = String(n);
  }

  // The exports of exactly what the map shows: the filters, the period played, and the visible area.
  function exportInView(collection) {
    var links = document.getElementById("in-view-export");
    if (!links) { return; }
    var params = new URLSearchParams(query());
    params.delete("zoom");
    links.querySelectorAll("a[data-export-base]").forEach(function (link) {
      link.href = link.dataset.exportBase + "?" + params.toString();
    });
    links.hidden = collection.count === 0;
  }

  function load() {
    if (request) { request.abort(); }
    request = new AbortController();
    fetch(element.dataset.dataUrl + "?" + query(), { signal: request.signal, headers: { Accept: "application/geo+json" } })
      .then(function (response) {
        if (response.ok) { return response.json(); }
        // A refusal the app explains (429: too many requests; 503: too costly) says why in its detail.
        return response.json().catch(function () { return {}; }).then(function (problem) {
          throw new Error(problem.detail || "The map data could not be loaded (" + response.status + ").");
        });
      })
      .then(show)
      .catch(function (error) {
        if (error.name !== "AbortError") { inView.textContent = error.message; }
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  }

  // -- where to look: the URL's #map=zoom/lat/lon, else the selected incidents, else the world -------------
  var hash = /^#map=(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(window.location.hash);
  if (hash) {
    map.setView([parseFloat(hash[2]), parseFloat(hash[3])], parseInt(hash[1], 10));
  } else if (element.dataset.extent) {
    var e = element.dataset.extent.split(",").map(parseFloat);
    map.fitBounds([[e[1], e[0]], [e[3], e[2]]], { maxZoom: 8, padding: [20, 20] });
  } else {
    map.setView([10, 0], 2);
  }
  map.on("moveend", function () {
    var centre = map.getCenter();
    var place = "#map=" + map.getZoom() + "/" + centre.lat.toFixed(4) + "/" + wrap(centre.lng).toFixed(4);
    window.history.replaceState(null, "", window.location.pathname + window.location.search + place);
    later();
  });
  // The filter form keeps the place on the map.
  var form = document.querySelector("form.map-filters");
  if (form) {
    form.addEventListener("submit", function () {
      form.action = form.getAttribute("action").split("#")[0] + window.location.hash;
    });
  }
  load();

  // -- the time slider: one week (or month) at a time -------------------------------------------------------
  var slider = document.getElementById("time-slider");
  var step = document.getElementById("time-step");
  var play = document.getElementById("time-play");
  var all = document.getElementById("time-all");
  var label = document.getElementById("time-label");
  var filterLink = document.getElementById("time-filter-link");
  var first = element.dataset.firstDate, last = element.dataset.lastDate;
  if (!slider || !first || !last) { return; }

  function day(text) { var p = text.split("-"); return new Date(Date.UTC(+p[0], +p[1] - 1, +p[2])); }
  function iso(date) { return date.toISOString().slice(0, 10); }
  function addDays(date, n) { return new Date(date.getTime() + n * 86400000); }
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  function spoken(date) { return date.getUTCDate() + " " + MONTHS[date.getUTCMonth()] + " " + date.getUTCFullYear(); }

  var start = day(first), end = day(last);
  var weekly = (end - start) / 86400000 <= 3 * 366;
  var periods = [];
  if (weekly) {
    var monday = addDays(start, -((start.getUTCDay() + 6) % 7));
    for (var d = monday; d <= end; d = addDays(d, 7)) { periods.push([d, addDays(d, 6)]); }
  } else {
    for (var m = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1)); m <= end;
      m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))) {
      periods.push([m, addDays(new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1)), -1)]);
    }
  }
  if (periods.length < 2) { return; }
  slider.hidden = false;
  step.max = String(periods.length - 1);
  var playing = null;

  function choose(index) {
    var range = periods[index];
    var from = range[0], to = range[1];
    // Stay within the filter's own dates.
    if (element.dataset.dateFrom && day(element.dataset.dateFrom) > from) { from = day(element.dataset.dateFrom); }
    if (element.dataset.dateTo && day(element.dataset.dateTo) < to) { to = day(element.dataset.dateTo); }
    var words = weekly ? "week of " + spoken(range[0]) : MONTHS[from.getUTCMonth()] + " " + from.getUTCFullYear();
    period = { from: iso(from), to: iso(to), label: words };
    label.textContent = "Showing " + words + " (" + iso(from) + " to " + iso(to) + ")";
    var params = new URLSearchParams(filterQuery);
    params.set("date_from", iso(from));
    params.set("date_to", iso(to));
    filterLink.href = window.location.pathname + "?" + params.toString();
    filterLink.hidden = false;
    load();
  }

  function stop() {
    if (playing) { clearInterval(playing); playing = null; }
    play.textContent = "Play";
  }

  step.addEventListener("input", function () { stop(); choose(parseInt(step.value, 10)); });
  play.addEventListener("click", function () {
    if (playing) { stop(); return; }
    var index = period ? parseInt(step.value, 10) : -1;
    play.textContent = "Pause";
    playing = setInterval(function () {
      index += 1;
      if (index >= periods.length) { stop(); return; }
      step.value = String(index);
      choose(index);
    }, 1200);
  });
  all.addEventListener("click", function () {
    stop();
    period = null;
    label.textContent = "All dates";
    filterLink.hidden = true;
    load();
  });
})();
