// The analysts' map: a vendored world outline (no tile server), located answers
// from /api/map as points or grid clusters, and a list of the answers under a
// clicked point or cluster. Text from answers is only ever set as textContent.
(function () {
  "use strict";
  var element = document.getElementById("map");
  if (!element || !window.L || !window.topojson) {
    return;
  }
  var data = element.dataset;
  var filters = new URLSearchParams(data.filters || "");
  var status = document.getElementById("map-status");
  var list = document.getElementById("map-answers");
  // The API refuses a page larger than the configured limit.
  var listSize = Math.min(50, parseInt(data.maxPageSize, 10) || 50);
  var request = 0;

  var map = L.map(element, {
    minZoom: 1,
    maxZoom: 12,
    worldCopyJump: false,
    maxBounds: [[-90, -200], [90, 200]],
    maxBoundsViscosity: 1.0,
  }).setView([25, 0], 2);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(
    '<a href="' + escapeHtml(data.attributionUrl) + '">' + escapeHtml(data.attribution) + "</a>"
  );
  var markers = L.layerGroup().addTo(map);

  function escapeHtml(text) {
    var holder = document.createElement("span");
    holder.textContent = text || "";
    return holder.innerHTML.replace(/"/g, "&quot;");
  }

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function viewBox() {
    var bounds = map.getBounds();
    var west = clamp(bounds.getWest(), -180, 180);
    var east = clamp(bounds.getEast(), -180, 180);
    if (bounds.getEast() - bounds.getWest() >= 360) {
      west = -180;
      east = 180;
    }
    var south = clamp(bounds.getSouth(), -90, 90);
    var north = clamp(bounds.getNorth(), -90, 90);
    return [west, south, east, north].map(function (n) { return n.toFixed(6); }).join(",");
  }

  function getJson(url, params) {
    return fetch(url + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body.error || "the request failed (" + response.status + ")");
        }
        return body;
      });
    });
  }

  function drawLand() {
    fetch(data.land).then(function (response) {
      return response.json();
    }).then(function (topology) {
      var land = topojson.feature(topology, topology.objects.land);
      land.features.forEach(unwrapGeometry);
      L.geoJSON(land, {
        interactive: false,
        style: { color: "#6c757d", weight: 1, fillColor: "#f8f9fa", fillOpacity: 1 },
      }).addTo(map);
      markers.eachLayer(function (layer) { layer.bringToFront(); });
    });
  }

  // The outline is on a sphere: a ring may jump from 180 to -180 degrees of
  // longitude, which a flat map would draw as a line across the world. Make
  // each ring continuous, and close a ring that goes round a pole over that pole.
  function unwrapRing(ring) {
    var shift = 0;
    var out = [ring[0].slice()];
    for (var i = 1; i < ring.length; i++) {
      var step = ring[i][0] - ring[i - 1][0];
      if (step > 180) {
        shift -= 360;
      } else if (step < -180) {
        shift += 360;
      }
      out.push([ring[i][0] + shift, ring[i][1]]);
    }
    if (shift !== 0) {
      var pole = ring.reduce(function (sum, point) { return sum + point[1]; }, 0) < 0 ? -90 : 90;
      out.push([out[out.length - 1][0], pole], [out[0][0], pole]);
    }
    return recentre(out);
  }

  // Move a ring by whole turns so that most of it lies between -180 and 180.
  function recentre(ring) {
    var longitudes = ring.map(function (point) { return point[0]; });
    var middle = (Math.min.apply(null, longitudes) + Math.max.apply(null, longitudes)) / 2;
    var turns = Math.round(middle / 360);
    return ring.map(function (point) { return [point[0] - 360 * turns, point[1]]; });
  }

  function unwrapGeometry(feature) {
    var geometry = feature.geometry;
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    var unwrapped = polygons.map(function (polygon) { return polygon.map(unwrapRing); });
    geometry.coordinates = geometry.type === "Polygon" ? unwrapped[0] : unwrapped;
  }

  function load() {
    var params = new URLSearchParams(filters);
    params.set("zoom", String(map.getZoom()));
    params.set("bbox", viewBox());
    var mine = ++request;
    status.textContent = "Loading…";
    getJson(data.mapApi, params).then(function (body) {
      if (mine !== request) {
        return;
      }
      markers.clearLayers();
      body.points.forEach(addPoint);
      body.clusters.forEach(addCluster);
      status.textContent = body.total + " located answers in view" +
        (body.clusters.length ? ", in " + body.clusters.length + " clusters" : "");
    }).catch(function (error) {
      status.textContent = "Could not load the map: " + error.message;
    });
  }

  function addPoint(answer) {
    L.circleMarker([answer.lat, answer.lon], {
      radius: 6,
      className: "survey-point",
      color: "#0d6efd",
      fillOpacity: 0.7,
    }).on("click", function () {
      showAnswers([answer], 1);
    }).addTo(markers);
  }

  function addCluster(cluster) {
    var radius = 8 + 3 * Math.log2(cluster.count);
    L.circleMarker([cluster.lat, cluster.lon], {
      radius: radius,
      className: "survey-cluster",
      color: "#dc3545",
      fillOpacity: 0.5,
    }).bindTooltip(String(cluster.count), {
      permanent: true,
      direction: "center",
      className: "survey-cluster-count",
    }).on("click", function () {
      listArea(cluster.bbox);
    }).addTo(markers);
  }

  function listArea(bbox) {
    var params = new URLSearchParams(filters);
    params.set("bbox", bbox.map(function (n) { return n.toFixed(6); }).join(","));
    params.set("located", "yes");
    params.set("size", String(listSize));
    getJson(data.answersApi, params).then(function (body) {
      showAnswers(body.answers, body.total);
    }).catch(function (error) {
      status.textContent = "Could not list the answers: " + error.message;
    });
  }

  function line(className, text) {
    var part = document.createElement("div");
    part.className = className;
    part.textContent = text;
    return part;
  }

  function showAnswers(answers, total) {
    list.replaceChildren();
    answers.forEach(function (answer) {
      var item = document.createElement("li");
      item.className = "list-group-item map-answer";
      var place = [answer.city, answer.country].filter(Boolean).join(", ") || "unknown place";
      var time = (answer.time || "").slice(0, 16).replace("T", " ") + " UTC";
      item.appendChild(line("small text-body-secondary", time + " · " + place));
      item.appendChild(line("small email", answer.email || ""));
      var essay = answer.essay || "";
      essay = essay.length > 300 ? essay.slice(0, 300) + "…" : essay;
      item.appendChild(line("essay", essay));
      list.appendChild(item);
    });
    if (total > answers.length) {
      var more = document.createElement("li");
      more.className = "list-group-item small";
      more.textContent = "… and " + (total - answers.length) + " more: zoom in or use the search page.";
      list.appendChild(more);
    }
  }

  map.on("moveend", load);
  drawLand();
  load();
})();
