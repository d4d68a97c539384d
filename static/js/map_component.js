// The map component: draws a GeoJSON FeatureCollection on a django-leaflet map.
// Used through templates/maps/map.html, which renders the map and the data
// (<script id="<map id>-data" type="application/json">), and calls TrackerMap.init.
// Feature kinds (tracking/geojson.py): "tracker" (point coloured by status, with its
// accuracy circle), "track" (line and its points), "place" (circle of radius_m, or polygon).
// Tiles are decoration: everything here is vector, drawn whether tiles load or not.
(function () {
  "use strict";
  var STATUS_COLOURS = {
    DELIVERED: "#2e7d32", IN_STORAGE: "#ef6c00", IN_TRANSIT: "#1565c0", UNKNOWN: "#607d8b",
  };
  var PLACE_COLOURS = { DELIVERY: "#2e7d32", STORAGE: "#ef6c00" };

  function escape(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "never";
  }

  function link(url, html) {
    return url ? '<a href="' + escape(url) + '">' + html + "</a>" : html;
  }

  function latLng(coordinates) {
    return [coordinates[1], coordinates[0]];
  }

  function drawPlace(feature, layer) {
    var p = feature.properties;
    var style = { color: PLACE_COLOURS[p.place_kind] || "#555", weight: 2, fillOpacity: 0.12,
      className: "map-place map-place-" + String(p.place_kind).toLowerCase() };
    var shape = feature.geometry.type === "Polygon"
      ? L.polygon(feature.geometry.coordinates.map(function (ring) { return ring.map(latLng); }), style)
      : L.circle(latLng(feature.geometry.coordinates), Object.assign({ radius: p.radius_m }, style));
    shape.bindTooltip(escape(p.name) + " (" + escape(String(p.place_kind).toLowerCase()) + ")");
    if (p.url) { shape.bindPopup(link(p.url, escape(p.name))); }
    return shape.addTo(layer);
  }

  function drawTracker(feature, layer) {
    var p = feature.properties;
    var colour = STATUS_COLOURS[p.status] || STATUS_COLOURS.UNKNOWN;
    var at = latLng(feature.geometry.coordinates);
    var shapes = [];
    if (p.accuracy_m) {
      shapes.push(L.circle(at, { radius: p.accuracy_m, color: colour, weight: 1, fillOpacity: 0.08,
        dashArray: "4 4", interactive: false, className: "map-accuracy" }).addTo(layer));
    }
    var marker = L.circleMarker(at, { radius: 7, color: "#fff", weight: 2, fillColor: colour,
      fillOpacity: 0.95, className: "map-tracker map-status-" + String(p.status).toLowerCase() });
    marker.bindPopup(
      // A share link's page sends no MAC: the label names the tracker there.
      (p.mac ? link(p.url, "<code>" + escape(p.mac) + "</code>") + (p.label ? " · " + escape(p.label) : "")
        : escape(p.label)) +
      "<br>" + escape(p.status_label) + "<br>" + when(p.last_report_at) +
      (p.accuracy_m ? "<br>± " + Math.round(p.accuracy_m) + " m" : "") +
      (p.city ? "<br>near " + escape(p.city) : "")
    );
    shapes.push(marker.addTo(layer));
    return shapes;
  }

  function drawTrack(feature, layer) {
    var p = feature.properties;
    var line = feature.geometry.coordinates.map(latLng);
    var shapes = [L.polyline(line, { color: "#1565c0", weight: 3, className: "map-track" }).addTo(layer)];
    line.forEach(function (at, i) {
      shapes.push(L.circleMarker(at, { radius: 3, color: "#1565c0", className: "map-track-point" })
        .bindTooltip(when(p.times[i]) + (p.reports[i] > 1 ? " · " + p.reports[i] + " reports" : ""))
        .addTo(layer));
    });
    return shapes;
  }

  var DRAW = { place: drawPlace, tracker: drawTracker, track: drawTrack };

  // Draws the collection on the map; returns {layer, counts} and fits the map to it.
  function draw(map, collection, options) {
    options = options || {};
    var layer = L.featureGroup().addTo(map);
    var counts = { place: 0, tracker: 0, track: 0 };
    // Places first, so trackers and tracks stay clickable above them.
    var order = { place: 0, track: 1, tracker: 2 };
    collection.features.slice().sort(function (a, b) {
      return order[a.properties.kind] - order[b.properties.kind];
    }).forEach(function (feature) {
      var kind = feature.properties.kind;
      if (DRAW[kind]) { DRAW[kind](feature, layer); counts[kind] += 1; }
    });
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      var fit = function () {
        map.fitBounds(bounds, { padding: [24, 24], maxZoom: options.maxZoom || 16 });
      };
      fit();
      // Until someone moves the map, keep everything in view when the page is resized
      // (a phone turned sideways, a sidebar collapsed).
      var moved = false;
      map.once("dragstart zoomstart", function () { moved = true; });
      map.on("resize", function () { if (!moved) { fit(); } });
    }
    return { layer: layer, counts: counts };
  }

  // django-leaflet callback: finds the map's data by its container's id.
  function init(map) {
    var container = map.getContainer();
    var source = document.getElementById(container.id + "-data");
    var drawn = draw(map, JSON.parse(source.textContent));
    container.dataset.places = drawn.counts.place;
    container.dataset.trackers = drawn.counts.tracker;
    container.dataset.tracks = drawn.counts.track;
    container.dataset.ready = "true";
    container.trackerMap = { map: map, layer: drawn.layer };
  }

  window.TrackerMap = { init: init, draw: draw, STATUS_COLOURS: STATUS_COLOURS,
    PLACE_COLOURS: PLACE_COLOURS };
})();
