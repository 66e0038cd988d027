// Decoding of Kubernetes manifests into api objects.
//
// Accepted input (each file may mix them): a YAML stream of documents ("---"), a `kind: List`
// (what `kubectl get svc,endpointslices,nodes -A -o yaml` prints), and the same as JSON (an
// object or a List; JSON goes through simdjson because cluster dumps are large). Objects of other
// kinds are skipped silently. Legacy v1 Endpoints are converted to EndpointSlices the way the
// EndpointSlice mirroring controller would (see decode.cc). Objects that kube-proxy's informers
// never see (label selector: no service.kubernetes.io/service-proxy-name, no
// service.kubernetes.io/headless) are dropped here.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/api/objects.h"
#include "src/util/result.h"

namespace kproxy::api {

// Spare capacity (beyond size()) that lets a large JSON file be parsed in place instead of
// copied: read files with bytes.reserve(size + kManifestPadding).
inline constexpr size_t kManifestPadding = 64;

struct ManifestFile {
  std::string name;   // shown in messages ("cluster.yaml", "<stdin>")
  std::string bytes;
  // Instead of `bytes`: text that lives elsewhere (a mapped file, see util/mapped_file.h), kept
  // alive by `storage`, with at least kManifestPadding readable bytes after its end.
  std::string_view padded_text;
  std::shared_ptr<const void> storage;

  std::string_view text() const { return storage ? padded_text : std::string_view(bytes); }
  // Readable bytes from text().data() on (text plus any spare room after it).
  size_t readable() const { return storage ? padded_text.size() + kManifestPadding : bytes.capacity(); }
};

struct DecodeResult {
  ClusterState state;
  // One entry per problem: "cluster.yaml:12: Service default/web: spec.ports[1].port: 70000 not in 1-65535".
  // Objects with errors are left out of `state`.
  std::vector<Error> errors;
  // True when a whole file or document could not be parsed (YAML/JSON syntax): then `state` is
  // not a faithful picture of the input and a daemon keeps what it had.
  bool syntax_error = false;
  // True when the input held legacy v1 Endpoints. Whether one is mirrored depends on every file's
  // EndpointSlices, so such files cannot be decoded one by one (watch/file_source.cc).
  bool legacy_endpoints = false;
};

DecodeResult decodeManifests(const std::vector<ManifestFile>& files);

// The JSON decoder keeps its parser and padding buffer per thread, sized to the largest document
// it has read, so that the next call allocates nothing. A long-lived thread that has just decoded
// an unusually large document (an API list page) calls this to free them.
void releaseDecoderBuffers();

// True when kube-proxy's informer label selector admits the object
// ("!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless").
bool selectedByKubeProxy(const ObjectMeta& meta);

}  // namespace kproxy::api
