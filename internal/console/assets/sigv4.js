// SigV4 (AWS Signature Version 4) for the console's requests to lambdad,
// with WebCrypto's HMAC-SHA256 and SHA-256. Written for lambdad: it signs
// host, x-amz-date and x-amz-content-sha256, as lambdad's verifier (the Go
// SDK's signer) expects, with the path encoded twice as for every service
// but S3.
"use strict";
const SigV4 = (() => {
  const enc = new TextEncoder();
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256 = async (data) => hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? enc.encode(data) : data));
  const hmac = async (key, msg) => {
    const k = await crypto.subtle.importKey("raw", typeof key === "string" ? enc.encode(key) : key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return crypto.subtle.sign("HMAC", k, enc.encode(msg));
  };
  // rfc3986 percent-encodes all but the unreserved characters.
  const rfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const canonicalPath = (path) => path.split("/").map(rfc3986).join("/");
  const canonicalQuery = (search) => {
    const params = [];
    for (const [k, v] of new URLSearchParams(search)) params.push([rfc3986(k), rfc3986(v)]);
    params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return params.map(([k, v]) => k + "=" + v).join("&");
  };
  // sign returns the headers to add to a request of method to url (a
  // URL object) with body (a string or Uint8Array, "" for none).
  async function sign({ method, url, body, accessKey, secretKey, region, service = "lambda", now = new Date() }) {
    const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    const date = amzDate.slice(0, 8);
    const payloadHash = await sha256(body || "");
    const signedHeaders = "host;x-amz-content-sha256;x-amz-date";
    const canonical = [
      method,
      canonicalPath(url.pathname),
      canonicalQuery(url.search),
      "host:" + url.host + "\n" + "x-amz-content-sha256:" + payloadHash + "\n" + "x-amz-date:" + amzDate + "\n",
      signedHeaders,
      payloadHash,
    ].join("\n");
    const scope = date + "/" + region + "/" + service + "/aws4_request";
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(canonical)].join("\n");
    let key = await hmac("AWS4" + secretKey, date);
    key = await hmac(key, region);
    key = await hmac(key, service);
    key = await hmac(key, "aws4_request");
    const signature = hex(await hmac(key, toSign));
    return {
      "X-Amz-Date": amzDate,
      "X-Amz-Content-Sha256": payloadHash,
      Authorization: "AWS4-HMAC-SHA256 Credential=" + accessKey + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature,
    };
  }
  return { sign, sha256 };
})();
