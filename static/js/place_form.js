// A place's circle on a map, and the admin's place form that uses it.
//
// PlaceForm.radiusCircle(map, {center, radiusInput, hidden, colour}) draws the circle of the
// point `center()` returns with the radius typed in `radiusInput`, and a round handle on its
// east edge: dragging the handle sets the radius (clamped to the model's range) in the input.
// `refresh()` redraws it after the point, the radius or the colour (`colour()`, optional)
// changed; it hides itself while `hidden()` is true (a polygon replaces the circle). The
// portal's place editor (place_editor.js) uses it as well.
//
// The admin's place form: click on the map to set the place's point, drag the handle on the
// circle (or type in "Radius m") to set its radius; the circle follows both. A drawn polygon
// replaces the circle, and is drawn on the same map, which opens at the place.
(function () {
  "use strict";
  var MIN_M = 10, MAX_M = 50000;

  function east(at, metres) {
    return L.latLng(at.lat, at.lng + metres / (111320 * Math.cos(at.lat * Math.PI / 180)));
  }

  function radiusCircle(map, options) {
    var circle = null, handle = null;
    var min = options.min || MIN_M, max = options.max || MAX_M;
    var input = options.radiusInput;
    var hidden = options.hidden || function () { return false; };
    var colour = options.colour || function () { return "#ef6c00"; };

    function clear() {
      if (circle) { map.removeLayer(circle); map.removeLayer(handle); circle = handle = null; }
    }

    function refresh() {
      var at = options.center();
      var radius = parseInt(input.value, 10);
      if (!at || !(radius > 0) || hidden()) { clear(); return; }
      if (!circle) {
        circle = L.circle(at, { radius: radius, color: colour(), weight: 2, fillOpacity: 0.12,
          interactive: false, className: "place-radius" }).addTo(map);
        handle = L.marker(east(at, radius), {
          draggable: true, title: "Drag to set the radius", keyboard: false,
          icon: L.divIcon({ className: "place-radius-handle", iconSize: [16, 16] }),
        }).addTo(map);
        handle.on("drag", function (e) {
          var r = Math.round(map.distance(options.center(), e.latlng));
          r = Math.min(max, Math.max(min, r));
          input.value = r;
          circle.setRadius(r);
          if (options.onChange) { options.onChange(); }
        });
        handle.on("dragend", refresh);
      } else {
        circle.setLatLng(at);
        circle.setRadius(radius);
        circle.setStyle({ color: colour() });
        handle.setLatLng(east(at, radius));
      }
    }

    return {
      refresh: refresh,
      clear: clear,
      bounds: function () { return circle ? circle.getBounds() : null; },
    };
  }

  window.PlaceForm = { radiusCircle: radiusCircle, MIN_M: MIN_M, MAX_M: MAX_M };

  // --- The admin's form (django-leaflet's widgets for "point" and "polygon") -------------
  var fields = {}, map = null, radius = null, drawing = false;

  function pointLatLng() {
    var field = fields.id_point;
    var layers = field ? field.drawnItems.getLayers() : [];
    return layers.length && layers[0].getLatLng ? layers[0].getLatLng() : null;
  }

  function hasPolygon() {
    return Boolean(fields.id_polygon && fields.id_polygon.drawnItems.getLayers().length);
  }

  function refresh() {
    if (radius) { radius.refresh(); }
  }

  function setPoint(latlng) {
    var field = fields.id_point;
    field.drawnItems.eachLayer(function (layer) { map.removeLayer(layer); });
    field.drawnItems.clearLayers();
    var marker = L.marker(latlng);
    map.addLayer(marker);
    field.drawnItems.addLayer(marker);
    field.store.save(field.drawnItems);
    refresh();
  }

  function setUp() {
    radius = radiusCircle(map, {
      center: pointLatLng,
      radiusInput: document.getElementById("id_radius_m"),
      hidden: hasPolygon,
    });
    map.on("click", function (e) {
      if (!drawing && fields.id_point) { setPoint(e.latlng); }
    });
    map.on("draw:drawstart draw:editstart draw:deletestart", function () { drawing = true; });
    map.on("draw:drawstop draw:editstop draw:deletestop", function () {
      setTimeout(function () { drawing = false; }, 0);  // the click that ended drawing
    });
    map.on("draw:created draw:edited draw:deleted", function () { setTimeout(refresh, 0); });
    document.getElementById("id_radius_m").addEventListener("input", refresh);
    map.getContainer().placeMap = map;  // for tests and the browser console
    map.getContainer().dataset.placeForm = "ready";
  }

  window.addEventListener("map:init", function (e) {
    var target = e.detail.map;
    target.on("map:loadfield", function (loaded) {
      fields[loaded.fieldid] = loaded.field;
      if (loaded.fieldid === "id_point") { map = target; setUp(); }
      refresh();
    });
  });
})();
