// The map component: draws a GeoJSON FeatureCollection on a django-leaflet map.
// Used through templates/maps/map.html, which renders the map and the data
// (<script id="<map id>-data" type="application/json">), and calls TrackerMap.init.
// Feature kinds (tracking/geojson.py): "tracker" (point coloured by status, with its
// accuracy circle), "track" (line and its points), "place" (circle of radius_m, or polygon).
// Tiles are decoration: everything here is vector, drawn whether tiles load or not.
//
// Options come from data attributes on the component's wrapper (.map-component):
//   data-cluster        trackers as markers grouped by Leaflet.markercluster (many trackers)
//   data-tracker-url    a tracker's page, "{id}" standing for its id (compact features
//                       carry no URL of their own)
//   data-refresh-url    a scoped GeoJSON endpoint answering the map's whole collection (the
//                       trackers' current positions, and the places when the map shows them),
//   data-refresh-seconds  fetched every so many seconds (default 60); what it answers replaces
//                       what was drawn, the user's view is kept.
//   data-refresh-load   "true": the page embeds only a small first set (or nothing) and the
//                       map fetches the collection at once; it fits the view and sets
//                       data-ready when that first answer is drawn. Keeps big maps out of the
//                       page's HTML.
// The container's data-trackers, data-places, data-tracks and data-track-points (the points
// of every track drawn) count what is drawn; after each refresh they are updated
// and data-refreshes counts the refreshes drawn (data-refresh-error names a failed one).
//
// When a map is drawn, its container fires "trackermap:ready" (bubbling; detail: the
// container's trackerMap), for pages that build on the map (static/js/place_editor.js).
//
// Every text from the data (names, labels, cities) goes into the page as text (textContent,
// Leaflet's title option), never as HTML.
(function () {
  "use strict";
  var STATUS_COLOURS = {
    DELIVERED: "#2e7d32", IN_STORAGE: "#ef6c00", IN_TRANSIT: "#1565c0", UNKNOWN: "#607d8b",
  };
  var STATUS_LABELS = {
    DELIVERED: "Delivered", IN_STORAGE: "In storage", IN_TRANSIT: "In transit", UNKNOWN: "Unknown",
  };
  var PLACE_COLOURS = { DELIVERY: "#2e7d32", STORAGE: "#ef6c00" };

  // el("a", {href: url}, "text", child, ...) -> an element; strings become text nodes.
  function el(tag, attributes) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (attributes[name] != null && attributes[name] !== "") {
        node.setAttribute(name, attributes[name]);
      }
    });
    for (var i = 2; i < arguments.length; i += 1) {
      var child = arguments[i];
      if (child == null || child === "") { continue; }
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function lines(parts) {
    var box = el("div", { "class": "map-popup" });
    parts.forEach(function (part) {
      if (part == null || part === "") { return; }
      if (box.childNodes.length) { box.appendChild(el("br")); }
      box.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    });
    return box;
  }

  // Times in the page's timezone (<html data-timezone>, the person's: see tracking/timezones.py),
  // named like the server's "Y-m-d H:i T"; UTC where a page names none (admin).
  var TIME_ZONE = document.documentElement.getAttribute("data-timezone") || "UTC";
  var timeFormat = null;
  function when(iso) {
    if (!iso) { return "never"; }
    try {
      timeFormat = timeFormat || new Intl.DateTimeFormat("en-US", {
        timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
      });
      var parts = {};
      timeFormat.formatToParts(new Date(iso)).forEach(function (part) { parts[part.type] = part.value; });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
        parts.minute + " " + parts.timeZoneName;
    } catch (error) {  // an unknown zone or date: the UTC text the data carries
      return iso.replace("T", " ").slice(0, 16) + " UTC";
    }
  }

  function latLng(coordinates) {
    return [coordinates[1], coordinates[0]];
  }

  function trackerUrl(p, options) {
    if (p.url) { return p.url; }
    return options.trackerUrl ? options.trackerUrl.replace("{id}", String(p.id)) : "";
  }

  function statusLabel(p) {
    return p.status_label || STATUS_LABELS[p.status] || String(p.status);
  }

  function drawPlace(feature, layer) {
    var p = feature.properties;
    var kind = String(p.place_kind).toLowerCase();
    var style = { color: PLACE_COLOURS[p.place_kind] || "#555", weight: 2, fillOpacity: 0.12,
      className: "map-place map-place-" + kind };
    var shape = feature.geometry.type === "Polygon"
      ? L.polygon(feature.geometry.coordinates.map(function (ring) { return ring.map(latLng); }), style)
      : L.circle(latLng(feature.geometry.coordinates), Object.assign({ radius: p.radius_m }, style));
    shape.bindTooltip(el("span", { "class": "map-place-name" }, String(p.name), " (" + kind + ")"));
    if (p.url) { shape.bindPopup(lines([el("a", { href: p.url }, String(p.name))])); }
    return shape.addTo(layer);
  }

  function trackerPopup(p, options) {
    var url = trackerUrl(p, options);
    var title;
    if (p.mac) {
      var mac = el("code", {}, String(p.mac));
      title = el("span", {}, url ? el("a", { href: url }, mac) : mac);
      if (p.label) { title.appendChild(document.createTextNode(" · " + p.label)); }
    } else {  // A share link's page sends no MAC: the label names the tracker there.
      title = el("span", {}, String(p.label || ""));
    }
    return lines([
      title,
      statusLabel(p),
      when(p.last_report_at),
      p.accuracy_m ? "± " + Math.round(p.accuracy_m) + " m" : "",
      p.city ? "near " + p.city : "",
    ]);
  }

  function drawTracker(feature, layer, options) {
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
    marker.bindPopup(trackerPopup(p, options));
    shapes.push(marker.addTo(layer));
    return shapes;
  }

  // A tracker as a marker a cluster group can hold: a dot coloured by status (CSS classes in
  // map_component.css), its label or MAC as the hover title.
  function trackerMarker(feature, options) {
    var p = feature.properties;
    var marker = L.marker(latLng(feature.geometry.coordinates), {
      icon: L.divIcon({ className: "map-tracker map-tracker-dot map-status-" +
        String(p.status).toLowerCase(), iconSize: [14, 14] }),
      title: (p.label || p.mac || "") + " · " + statusLabel(p),
      keyboard: true,
    });
    marker.trackerId = p.id;
    marker.bindPopup(trackerPopup(p, options));
    return marker;
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

  var DRAW = { place: drawPlace, track: drawTrack };

  function clusterGroup() {
    return L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 50,
      chunkedLoading: true,  // thousands of markers without freezing the page
    });
  }

  // Draws the tracker features into `group` (a cluster group or a feature group); returns
  // how many.
  function drawTrackers(group, features, options) {
    var trackers = features.filter(function (feature) {
      return feature.properties.kind === "tracker";
    });
    if (options.cluster) {
      group.addLayers(trackers.map(function (feature) { return trackerMarker(feature, options); }));
    } else {
      trackers.forEach(function (feature) { drawTracker(feature, group, options); });
    }
    return trackers.length;
  }

  // Draws the collection into drawn.layer (places, tracks) and drawn.trackers, replacing
  // what they held; returns the counts by kind.
  function drawInto(drawn, collection, options) {
    drawn.layer.clearLayers();
    drawn.trackers.clearLayers();
    var counts = { place: 0, tracker: 0, track: 0, trackPoints: 0 };
    // Places first, so trackers and tracks stay clickable above them.
    var order = { place: 0, track: 1 };
    collection.features.filter(function (feature) {
      return feature.properties.kind !== "tracker";
    }).sort(function (a, b) {
      return order[a.properties.kind] - order[b.properties.kind];
    }).forEach(function (feature) {
      var kind = feature.properties.kind;
      if (DRAW[kind]) { DRAW[kind](feature, drawn.layer, options); counts[kind] += 1; }
      if (kind === "track") { counts.trackPoints += feature.geometry.coordinates.length; }
    });
    counts.tracker = drawTrackers(drawn.trackers, collection.features, options);
    drawn.counts = counts;
    return counts;
  }

  // Draws the collection on the map; returns {layer, trackers, counts} and fits the map to it
  // (unless options.refreshLoad: then the first answer of the endpoint is fitted).
  // Trackers go into a group of their own (`trackers`: a cluster group with options.cluster).
  function draw(map, collection, options) {
    options = options || {};
    var drawn = {
      layer: L.featureGroup().addTo(map),
      trackers: (options.cluster ? clusterGroup() : L.featureGroup()).addTo(map),
      counts: {},
      fitted: false,
    };
    drawInto(drawn, collection, options);
    if (!options.refreshLoad) { fitOnce(map, drawn, options); }
    return drawn;
  }

  function bounds(drawn) {
    var all = drawn.layer.getBounds();
    var trackers = drawn.trackers.getBounds();
    return all.isValid() ? (trackers.isValid() ? all.extend(trackers) : all) : trackers;
  }

  function fitOnce(map, drawn, options) {
    var box = bounds(drawn);
    if (drawn.fitted || !box.isValid()) { return; }
    drawn.fitted = true;
    var fitting = false;
    var fit = function () {
      var size = map.getSize();
      if (!size.x || !size.y) { return; }  // not laid out (yet): the next resize fits
      fitting = true;
      map.fitBounds(bounds(drawn), { padding: [24, 24], maxZoom: options.maxZoom || 16,
        animate: false });
      fitting = false;
    };
    fit();
    // Until someone moves the map, keep everything in view when the page is resized
    // (a phone turned sideways, a sidebar collapsed). Only a person's drag or zoom counts:
    // the fit's own zoom does not.
    var moved = false;
    map.on("dragstart zoomstart", function () { if (!fitting) { moved = true; } });
    map.on("resize", function () { if (!moved) { fit(); } });
  }

  function optionsOf(container) {
    var wrapper = container.closest(".map-component");
    var data = wrapper ? wrapper.dataset : {};
    return {
      cluster: data.cluster === "true",
      trackerUrl: data.trackerUrl || "",
      refreshUrl: data.refreshUrl || "",
      refreshSeconds: Math.max(1, parseInt(data.refreshSeconds, 10) || 60),
      refreshLoad: data.refreshLoad === "true" && Boolean(data.refreshUrl),
    };
  }

  function setCounts(container, counts) {
    container.dataset.places = counts.place;
    container.dataset.trackers = counts.tracker;
    container.dataset.tracks = counts.track;
    container.dataset.trackPoints = counts.trackPoints;
  }

  // Fetches the map's collection from `url` (default: its data-refresh-url) and draws it in
  // place of what was drawn; the user's view is kept. Returns a promise.
  function refresh(container, url) {
    var state = container.trackerMap;
    return fetch(url || state.options.refreshUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json, application/json" },
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("json") === -1) {
        // Logged out (the login page) or an error: keep what is drawn, try again later.
        throw new Error("refresh answered " + response.status);
      }
      return response.json();
    }).then(function (collection) {
      setCounts(container, drawInto(state.drawn, collection, state.options));
      fitOnce(state.map, state.drawn, state.options);
      container.dataset.refreshes = (parseInt(container.dataset.refreshes, 10) || 0) + 1;
      container.dataset.refreshedAt = new Date().toISOString();
      delete container.dataset.refreshError;
    }).catch(function (error) {
      container.dataset.refreshError = String(error.message || error);
    });
  }

  // Refreshes the map from `url` every `seconds` while the page is visible (and once at
  // once when the page is shown again after being hidden for longer than that).
  function autoRefresh(container, url, seconds) {
    var last = Date.now();
    var tick = function () {
      if (document.hidden) { return; }
      last = Date.now();
      refresh(container, url);
    };
    window.setInterval(tick, seconds * 1000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() - last > seconds * 1000) { tick(); }
    });
  }

  // django-leaflet callback: finds the map's data by its container's id.
  function init(map) {
    var container = map.getContainer();
    // Leaflet measures its container once; when the container's size changes later (a style
    // sheet that arrives after the map, a resized window or panel), it must measure again, or
    // it draws for the old size (markers off the drawing area, the fit for a box of 0 px).
    if (window.ResizeObserver) {
      new ResizeObserver(function () { map.invalidateSize({ pan: false }); }).observe(container);
    }
    var source = document.getElementById(container.id + "-data");
    var options = optionsOf(container);
    var drawn = draw(map, JSON.parse(source.textContent), options);
    setCounts(container, drawn.counts);
    container.trackerMap = { map: map, layer: drawn.layer, trackers: drawn.trackers, drawn: drawn,
      options: options };
    // Pages that add to the map (the place editor) start from here: {map, layer, ...}.
    container.dispatchEvent(new CustomEvent("trackermap:ready", { bubbles: true,
      detail: container.trackerMap }));
    if (!options.refreshUrl) {
      container.dataset.ready = "true";
      return;
    }
    container.dataset.refreshes = "0";
    if (options.refreshLoad) {
      refresh(container).then(function () {
        fitOnce(map, drawn, options);  // the embedded set, when the first answer failed
        container.dataset.ready = "true";
      });
    } else {
      container.dataset.ready = "true";
    }
    autoRefresh(container, options.refreshUrl, options.refreshSeconds);
  }

  window.TrackerMap = { init: init, draw: draw, refresh: refresh, autoRefresh: autoRefresh,
    STATUS_COLOURS: STATUS_COLOURS,
    STATUS_LABELS: STATUS_LABELS, PLACE_COLOURS: PLACE_COLOURS };
})();
