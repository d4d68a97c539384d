// The place form's map (admin): click on the map to set the place's point, drag the handle on
// the circle (or type in "Radius m") to set its radius; the circle follows both. A drawn
// polygon replaces the circle, and is drawn on the same map, which opens at the place.
(function () {
  "use strict";
  var MIN_M = 10, MAX_M = 50000;
  var fields = {}, map = null, circle = null, handle = null, drawing = false;

  function radiusInput() { return document.getElementById("id_radius_m"); }

  function pointLatLng() {
    var field = fields.id_point;
    var layers = field ? field.drawnItems.getLayers() : [];
    return layers.length && layers[0].getLatLng ? layers[0].getLatLng() : null;
  }

  function hasPolygon() {
    return Boolean(fields.id_polygon && fields.id_polygon.drawnItems.getLayers().length);
  }

  function east(at, metres) {
    return L.latLng(at.lat, at.lng + metres / (111320 * Math.cos(at.lat * Math.PI / 180)));
  }

  function clear() {
    if (circle) { map.removeLayer(circle); map.removeLayer(handle); circle = handle = null; }
  }

  function refresh() {
    if (!map) { return; }
    var at = pointLatLng();
    var radius = parseInt(radiusInput().value, 10);
    if (!at || !(radius > 0) || hasPolygon()) { clear(); return; }
    if (!circle) {
      circle = L.circle(at, { radius: radius, color: "#ef6c00", weight: 2, fillOpacity: 0.12,
        interactive: false, className: "place-radius" }).addTo(map);
      handle = L.marker(east(at, radius), {
        draggable: true, title: "Drag to set the radius",
        icon: L.divIcon({ className: "place-radius-handle", iconSize: [16, 16] }),
      }).addTo(map);
      handle.on("drag", function (e) {
        var r = Math.round(map.distance(pointLatLng(), e.latlng));
        r = Math.min(MAX_M, Math.max(MIN_M, r));
        radiusInput().value = r;
        circle.setRadius(r);
      });
      handle.on("dragend", refresh);
    } else {
      circle.setLatLng(at);
      circle.setRadius(radius);
      handle.setLatLng(east(at, radius));
    }
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
    map.on("click", function (e) {
      if (!drawing && fields.id_point) { setPoint(e.latlng); }
    });
    map.on("draw:drawstart draw:editstart draw:deletestart", function () { drawing = true; });
    map.on("draw:drawstop draw:editstop draw:deletestop", function () {
      setTimeout(function () { drawing = false; }, 0);  // the click that ended drawing
    });
    map.on("draw:created draw:edited draw:deleted", function () { setTimeout(refresh, 0); });
    radiusInput().addEventListener("input", refresh);
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
