package org.vsa.appliance.mgmt;

/** A request the API refuses: an HTTP status, a one-line reason and, for bad input, the field. */
public final class ApiException extends RuntimeException {
  private final int status;
  private final String field;

  public ApiException(int status, String message, String field) {
    super(message);
    this.status = status;
    this.field = field;
  }

  public static ApiException badInput(String field, String message) {
    return new ApiException(400, message, field);
  }

  public static ApiException notFound(String message) {
    return new ApiException(404, message, null);
  }

  public static ApiException conflict(String message) {
    return new ApiException(409, message, null);
  }

  public int status() {
    return status;
  }

  public String field() {
    return field;
  }
}
