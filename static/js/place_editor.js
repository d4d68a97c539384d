// The portal's place editor (templates/portal/place_form.html). The map is the one map
// component (the client's other places, for reference); this fills the form's fields from
// it, and the server validates them:
//   click on the map        latitude and longitude (6 decimals)
//   drag the round handle   radius (PlaceForm.radiusCircle, shared with the admin's form)
//   draw a polygon          the polygon's GeoJSON in the hidden "polygon" field (Leaflet.draw,
//                           vendored by django-leaflet); it replaces the circle, and deleting
//                           it brings the circle back
// Typing in the latitude, longitude and radius fields moves the circle too. The container
// gets data-place-editor="ready" and `placeMap` (the Leaflet map) for tests.
(function () {
  "use strict";
  var MAP_ID = "place-map";
  var POLYGON_STYLE = { color: "#ef6c00", weight: 2, fillOpacity: 0.15, className: "place-polygon" };

  // The place's colour on the maps: its kind's (the map component's PLACE_COLOURS).
  function kindColour() {
    var kind = byId("id_kind");
    return (kind && window.TrackerMap.PLACE_COLOURS[kind.value]) || POLYGON_STYLE.color;
  }

  function polygonStyle() {
    return Object.assign({}, POLYGON_STYLE, { color: kindColour() });
  }

  function byId(id) { return document.getElementById(id); }

  function number(input) {
    var value = parseFloat(input.value);
    return isFinite(value) ? value : null;
  }

  function polygonLayer(text) {
    try {
      var geometry = JSON.parse(text);
      var ring = geometry.coordinates[0].slice(0, -1);  // Leaflet closes rings itself
      return L.polygon(ring.map(function (xy) { return [xy[1], xy[0]]; }), polygonStyle());
    } catch (error) {
      return null;  // the server names what is wrong with it
    }
  }

  function setUp(map, container) {
    var latitude = byId("id_latitude"), longitude = byId("id_longitude");
    var radiusInput = byId("id_radius_m"), polygonInput = byId("id_polygon");
    var polygonState = byId("polygon-state");
    var limits = JSON.parse(byId("place-radius-limits").textContent);
    var polygons = L.featureGroup().addTo(map);
    var drawing = false;

    function center() {
      var lat = number(latitude), lng = number(longitude);
      return lat === null || lng === null ? null : L.latLng(lat, lng);
    }

    function hasPolygon() { return polygons.getLayers().length > 0; }

    var circle = window.PlaceForm.radiusCircle(map, {
      center: center, radiusInput: radiusInput, hidden: hasPolygon, colour: kindColour,
      min: limits.min, max: limits.max,
    });

    function savePolygon() {
      var layers = polygons.getLayers();
      polygonInput.value = layers.length ? JSON.stringify(layers[0].toGeoJSON().geometry) : "";
      polygonState.hidden = !layers.length;
      circle.refresh();
    }

    map.addControl(new L.Control.Draw({
      position: "topleft",
      draw: {
        polygon: { allowIntersection: false, showArea: false, shapeOptions: POLYGON_STYLE },
        rectangle: { showArea: false, shapeOptions: POLYGON_STYLE },
        polyline: false, circle: false, marker: false, circlemarker: false,
      },
      edit: { featureGroup: polygons, remove: true },
    }));
    map.on("draw:drawstart draw:editstart draw:deletestart", function () { drawing = true; });
    map.on("draw:drawstop draw:editstop draw:deletestop", function () {
      setTimeout(function () { drawing = false; }, 0);  // the click that ended drawing
    });
    map.on("draw:created", function (e) {
      polygons.clearLayers();  // one polygon per place
      polygons.addLayer(e.layer.setStyle({ color: kindColour() }));
      savePolygon();
    });
    map.on("draw:edited draw:deleted", savePolygon);
    map.on("click", function (e) {
      if (drawing || hasPolygon()) { return; }
      latitude.value = e.latlng.lat.toFixed(6);
      longitude.value = e.latlng.lng.toFixed(6);
      circle.refresh();
    });
    [latitude, longitude, radiusInput].forEach(function (input) {
      input.addEventListener("input", circle.refresh);
    });
    byId("id_kind").addEventListener("change", function () {
      polygons.setStyle({ color: kindColour() });
      circle.refresh();
    });

    var initial = polygonInput.value ? polygonLayer(polygonInput.value) : null;
    if (initial) { polygons.addLayer(initial); }
    circle.refresh();
    var focus = initial ? initial.getBounds() : circle.bounds();
    if (focus) { map.fitBounds(focus, { padding: [24, 24], maxZoom: 17 }); }

    container.placeMap = map;
    container.dataset.placeEditor = "ready";
  }

  document.addEventListener("trackermap:ready", function (e) {
    if (e.target.id === MAP_ID) { setUp(e.detail.map, e.target); }
  });
})();
