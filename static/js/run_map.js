// Puts every tracker of a production run at its last position on the run page's map.
window.runMap = function (map) {
  var trackers = JSON.parse(document.getElementById("run-trackers").textContent);
  var colours = { DELIVERED: "#2e7d32", IN_STORAGE: "#ef6c00", IN_TRANSIT: "#1565c0" };
  var bounds = [];
  trackers.forEach(function (t) {
    var marker = L.circleMarker([t.lat, t.lon], {
      radius: 6, color: colours[t.status] || "#555", fillOpacity: 0.8,
    });
    marker.bindPopup(
      '<a href="' + t.url + '"><code>' + t.mac + "</code></a><br>" + t.status_label +
      "<br>" + t.last_report_at.replace("T", " ").slice(0, 16) + " UTC" +
      (t.city ? "<br>near " + t.city : "")
    ).addTo(map);
    bounds.push([t.lat, t.lon]);
  });
  if (bounds.length) {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
  }
};
