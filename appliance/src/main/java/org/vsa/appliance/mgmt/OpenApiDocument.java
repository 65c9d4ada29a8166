package org.vsa.appliance.mgmt;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The management API's OpenAPI 3 document, made from the route table ({@link Routes}): every
 * route with its path and query parameters, its JSON body's fields, its success status and the
 * errors it answers (400 bad input naming the field, 401 no credential, 404, 409), all with the
 * one error schema {@code {"error": "...", "field": "..."}}.
 */
final class OpenApiDocument {
  private OpenApiDocument() {}

  private static final Map<String, Object> STRING = Map.of("type", "string");
  private static final Map<String, Object> INTEGER = Map.of("type", "integer", "format", "int64");
  private static final Map<String, Object> BOOLEAN = Map.of("type", "boolean");
  private static final Map<String, Object> SIZE = Map.of("oneOf", List.of(Map.of("type", "integer", "format", "int64",
      "minimum", 0), Map.of("type", "string", "description", "with a unit, e.g. 10GiB, 512M")));

  /** The schema of a body field, by its name. */
  private static Map<String, Object> fieldSchema(String field) {
    return switch (field) {
      case "size", "scoSize", "readCacheQuota", "rate" -> SIZE;
      case "blockSize", "lun" -> INTEGER;
      case "dedupe", "export", "iscsi" -> BOOLEAN;
      case "secret", "mutualSecret" -> Map.of("type", "string", "format", "password", "minLength",
          IscsiResources.SECRET_BYTES_MIN, "maxLength", IscsiResources.SECRET_BYTES_MAX);
      default -> STRING;
    };
  }

  private static final Map<Integer, String> ERRORS = Map.of(
      400, "BadRequest", 401, "Unauthorized", 404, "NotFound", 409, "Conflict");

  static Map<String, Object> build(List<Routes.Route> routes, String prefix) {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("openapi", "3.0.3");
    doc.put("info", Map.of("title", "vsa management API", "version", "1",
        "description", "vDisks, snapshots, clones, vPools, backends, iSCSI, NFS, nodes, DTL and events of a vsa "
            + "appliance. Every call needs HTTP Basic with the admin credential; 10 failed logins from one address "
            + "within a minute get 429 until the minute is over."));
    doc.put("servers", List.of(Map.of("url", prefix)));
    doc.put("security", List.of(Map.of("basicAuth", List.of())));
    Map<String, Object> paths = new LinkedHashMap<>();
    for (Routes.Route r : routes) {
      String path = r.template().isEmpty() ? "/" : r.template();
      @SuppressWarnings("unchecked")
      Map<String, Object> item = (Map<String, Object>) paths.computeIfAbsent(path, k -> new LinkedHashMap<>());
      item.put(r.method().toLowerCase(java.util.Locale.ROOT), operation(r));
    }
    doc.put("paths", paths);
    Map<String, Object> components = new LinkedHashMap<>();
    components.put("securitySchemes", Map.of("basicAuth", Map.of("type", "http", "scheme", "basic")));
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("type", "object");
    error.put("required", List.of("error"));
    error.put("properties", Map.of(
        "error", Map.of("type", "string", "description", "one line: why"),
        "field", Map.of("type", "string", "description", "for 400: the field or query parameter at fault")));
    components.put("schemas", Map.of("Error", error));
    Map<String, Object> responses = new LinkedHashMap<>();
    responses.put("BadRequest", errorResponse("bad input; 'field' names the field at fault"));
    responses.put("Unauthorized", errorResponse("no or wrong credential (HTTP Basic)"));
    responses.put("NotFound", errorResponse("no such vDisk, snapshot, vPool, target, ..."));
    responses.put("Conflict", errorResponse("refused in the current state (name taken, in use, offline, ...)"));
    components.put("responses", responses);
    doc.put("components", components);
    return doc;
  }

  private static Map<String, Object> errorResponse(String description) {
    return Map.of("description", description,
        "content", Map.of("application/json", Map.of("schema", Map.of("$ref", "#/components/schemas/Error"))));
  }

  private static Map<String, Object> operation(Routes.Route r) {
    Routes.Doc d = r.doc();
    Map<String, Object> op = new LinkedHashMap<>();
    op.put("summary", d.summary());
    op.put("operationId", operationId(r));
    List<Map<String, Object>> params = new ArrayList<>();
    for (String p : r.params()) {
      params.add(Map.of("name", p, "in", "path", "required", true, "schema", STRING));
    }
    for (String q : d.query()) {
      params.add(Map.of("name", q, "in", "query", "required", false,
          "schema", q.equals("since") || q.equals("limit") ? Map.of("type", "integer", "format", "int64", "minimum", 0)
              : STRING));
    }
    if (!params.isEmpty()) {
      op.put("parameters", params);
    }
    if (!d.body().isEmpty()) {
      Map<String, Object> props = new LinkedHashMap<>();
      for (String f : d.body()) {
        props.put(f, fieldSchema(f));
      }
      Map<String, Object> schema = new LinkedHashMap<>();
      schema.put("type", "object");
      schema.put("properties", props);
      schema.put("additionalProperties", false);
      op.put("requestBody", Map.of("required", d.bodyRequired(), "content",
          Map.of("application/json", Map.of("schema", schema))));
    }
    Map<String, Object> responses = new LinkedHashMap<>();
    if (d.okStatus() == 204) {
      responses.put("204", Map.of("description", "done; no body"));
    } else {
      responses.put(String.valueOf(d.okStatus()), Map.of("description", "success",
          "content", Map.of("application/json", Map.of("schema", Map.of()))));
    }
    List<Integer> errors = new ArrayList<>(List.of(400, 401));
    errors.addAll(d.refusals());
    for (int e : errors) {
      responses.put(String.valueOf(e), Map.of("$ref", "#/components/responses/" + ERRORS.get(e)));
    }
    op.put("responses", responses);
    return op;
  }

  private static String operationId(Routes.Route r) {
    StringBuilder sb = new StringBuilder(r.method().toLowerCase(java.util.Locale.ROOT));
    for (String seg : r.template().split("[/{}.]+")) {
      if (!seg.isEmpty()) {
        sb.append(Character.toUpperCase(seg.charAt(0))).append(seg.substring(1));
      }
    }
    return r.template().isEmpty() ? "getIndex" : sb.toString();
  }
}
