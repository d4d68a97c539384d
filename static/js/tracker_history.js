// Draws a tracker's track and its run's places on the history page's Leaflet map.
window.trackerHistoryMap = function (map) {
  var data = JSON.parse(document.getElementById("history-data").textContent);
  var colours = { DELIVERY: "#2e7d32", STORAGE: "#ef6c00" };
  var bounds = [];
  data.places.forEach(function (place) {
    var style = { color: colours[place.kind] || "#555", weight: 1, fillOpacity: 0.15 };
    var shape = place.polygon
      ? L.polygon(place.polygon, style)
      : L.circle([place.lat, place.lon], Object.assign({ radius: place.radius_m }, style));
    shape.bindTooltip(place.name + " (" + place.kind.toLowerCase() + ")").addTo(map);
  });
  var line = data.track.map(function (p) { return [p[0], p[1]]; });
  if (line.length) {
    L.polyline(line, { color: "#1565c0", weight: 3 }).addTo(map);
    data.track.forEach(function (p) {
      L.circleMarker([p[0], p[1]], { radius: 3, color: "#1565c0" })
        .bindTooltip(p[2].replace("T", " ").slice(0, 16) + (p[3] > 1 ? " · " + p[3] + " reports" : ""))
        .addTo(map);
    });
    bounds = line;
  } else {
    bounds = data.places.map(function (p) { return [p.lat, p.lon]; });
  }
  if (bounds.length) {
    map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 });
  }
};
