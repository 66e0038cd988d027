// The watch path of src/watch: a Reflector reading a list answer and then a watch stream of
// newline-delimited JSON events (framing across arbitrary chunk boundaries, event types,
// bookmarks, ERROR Status events), each event's object decoded and validated by an Informer.
//
// Input: one control byte, then the list answer up to the first NUL byte (without a NUL byte, a
// fixed list holding one object), then the watch stream body. The control byte picks the kind
// (Service, EndpointSlice, Node) and how the stream is cut into chunks (1 to 128 bytes, or one
// piece).
#include <algorithm>
#include <string>

#include "src/watch/informer.h"
#include "src/watch/reflector.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

namespace {

using namespace kproxy;

class ScriptedTransport final : public watch::HttpTransport {
 public:
  ScriptedTransport(std::string list, std::string stream, size_t chunk)
      : list_(std::move(list)), stream_(std::move(stream)), chunk_(chunk) {}

  Result<watch::HttpResponse> request(const watch::HttpRequest&, std::stop_token) override {
    // The first page is the input's; a continue token in it gets a last, empty page.
    if (requests_++ == 0) return watch::HttpResponse{200, list_};
    if (requests_ > 4) return Error("no more pages");
    return watch::HttpResponse{200, R"({"metadata":{"resourceVersion":"7"},"items":[]})"};
  }

  Result<watch::StreamResult> stream(const watch::HttpRequest&, std::chrono::milliseconds,
                                     const watch::ChunkHandler& on_data, std::stop_token) override {
    watch::StreamResult result{.status = 200, .end = watch::StreamEnd::kCompleted, .detail = {}, .body = {}};
    if (streams_++ > 0) {
      // A resumed watch: the round ends here.
      result.end = watch::StreamEnd::kCancelled;
      return result;
    }
    std::string_view body = stream_;
    while (!body.empty()) {
      // Each chunk in a buffer of its own, so that ASan sees a read past the chunk.
      std::string piece(body.substr(0, chunk_));
      body.remove_prefix(piece.size());
      if (!on_data(piece)) {
        result.end = watch::StreamEnd::kCancelled;
        break;
      }
    }
    return result;
  }

 private:
  std::string list_, stream_;
  size_t chunk_;
  int requests_ = 0;
  int streams_ = 0;
};

class NullSink final : public watch::ObjectEventSink {
 public:
  void onService(const watch::ObjectEvent<api::Service>&) override {}
  void onEndpointSlice(const watch::ObjectEvent<api::EndpointSlice>&) override {}
  void onNode(const watch::ObjectEvent<api::Node>&) override {}
  void onSynced(watch::ObjectKind) override {}
};

constexpr char kServiceList[] =
    R"({"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"5"},"items":[)"
    R"({"metadata":{"name":"web","namespace":"default","resourceVersion":"4"},)"
    R"("spec":{"clusterIP":"10.96.0.10","ports":[{"name":"http","port":80,"protocol":"TCP"}]}}]})";
constexpr char kSliceList[] =
    R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSliceList","metadata":{"resourceVersion":"5"},"items":[)"
    R"({"metadata":{"name":"web-1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},)"
    R"("addressType":"IPv4","endpoints":[{"addresses":["10.1.0.2"],"conditions":{"ready":true}}],)"
    R"("ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]})";
constexpr char kNodeList[] =
    R"({"apiVersion":"v1","kind":"NodeList","metadata":{"resourceVersion":"5"},"items":[)"
    R"({"metadata":{"name":"node-a","labels":{"topology.kubernetes.io/zone":"z1"}},)"
    R"("spec":{"podCIDR":"10.1.0.0/24"},"status":{"addresses":[{"type":"InternalIP","address":"192.168.0.2"}]}}]})";

template <typename T>
void run(std::string list, std::string stream, size_t chunk) {
  ScriptedTransport transport(std::move(list), std::move(stream), chunk);
  NullSink sink;
  watch::Informer<T> informer(sink, [](const std::string&) {});
  watch::ReflectorOptions options;
  options.resource = "fuzz";
  options.path = "/fuzz";
  options.seed = 1;
  watch::Reflector reflector(transport, informer, options, [](const std::string&) {});
  std::stop_source stop;
  (void)reflector.listAndWatch(stop.get_token());
  (void)informer.list();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  std::string_view input = fuzz::text(data + 1, size - 1);
  const size_t chunk = (control & 8) != 0 ? std::max<size_t>(input.size(), 1) : size_t{1} << (control & 7);
  const int kind = (control >> 4) % 3;
  std::string list, stream;
  if (size_t nul = input.find('\0'); nul != std::string_view::npos) {
    list.assign(input.substr(0, nul));
    stream.assign(input.substr(nul + 1));
  } else {
    list = kind == 0 ? kServiceList : kind == 1 ? kSliceList : kNodeList;
    stream.assign(input);
  }
  switch (kind) {
    case 0:
      run<api::Service>(std::move(list), std::move(stream), chunk);
      break;
    case 1:
      run<api::EndpointSlice>(std::move(list), std::move(stream), chunk);
      break;
    default:
      run<api::Node>(std::move(list), std::move(stream), chunk);
      break;
  }
  return 0;
}
