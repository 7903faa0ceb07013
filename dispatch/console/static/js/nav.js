// Navigation to a visit's address: a geo: URI (Android offers every map app installed) and the
// map apps residents and workers here use, AMap and Baidu, through their public link formats,
// which open the app when it is installed and a web page otherwise. Links the worker taps, never
// loaded by the console. The order's coordinates are WGS-84; both links say so (coordinate=wgs84,
// coord_type=wgs84) so the apps shift them onto their own maps.

import { h } from "./ui.js";

export function navLinks(o) {
  const name = encodeURIComponent(o.address || "");
  const has = o.lat != null && o.lon != null;
  const links = has
    ? [
        ["导航", `geo:${o.lat},${o.lon}?q=${o.lat},${o.lon}(${name})`],
        ["高德地图", `https://uri.amap.com/navigation?to=${o.lon},${o.lat},${name}&mode=car&coordinate=wgs84&callnative=1`],
        [
          "百度地图",
          `https://api.map.baidu.com/direction?destination=latlng:${o.lat},${o.lon}|name:${name}&coord_type=wgs84&mode=driving&output=html&src=sanshe`,
        ],
      ]
    : o.address
      ? [
          ["导航", `geo:0,0?q=${name}`],
          ["高德地图", `https://uri.amap.com/search?keyword=${name}&callnative=1`],
          ["百度地图", `https://api.map.baidu.com/geocoder?address=${name}&output=html&src=sanshe`],
        ]
      : [];
  if (!links.length) return null;
  return h(
    "div.nav-links",
    links.map(([label, href]) => h("a.nav-link", { href, target: "_blank", rel: "noopener noreferrer" }, label)),
  );
}
