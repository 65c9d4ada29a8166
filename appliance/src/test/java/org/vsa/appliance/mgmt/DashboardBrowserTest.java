package org.vsa.appliance.mgmt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.iscsi.IscsiConfig;

/**
 * The web dashboard in a real browser: Debian's chromium, headless, driven by Selenium through
 * Debian's chromedriver, against an appliance in this JVM. A missing chromium, chromedriver or
 * iscsi-perf fails the test (./test.sh installs chromium, chromium-driver and libiscsi-bin).
 *
 * <p>{@link #loginCreateSnapshotCloneDeleteAndScreenshot} needs only the vDisk resources of the
 * API. {@link #liveIopsOfAVdiskUnderIscsiLoad} needs {@code GET /api/v1/stats}: the chart moves
 * only if the appliance counts the I/O that iscsi-perf drives.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class DashboardBrowserTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  @TempDir
  Path work;

  private Appliance appliance;
  private Api api;
  private String password;
  private WebDriver browser;
  private WebDriverWait wait;
  private final List<Process> processes = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    requireExecutable(CHROMIUM, "chromium");
    requireExecutable(CHROMEDRIVER, "chromium-driver");
    String yaml = "node: {dataDir: data}\ndtl: {port: 0}\niscsi: {port: 0}\nmanagement: {port: 0}\n"
        + "nfs: {port: 0, mountPort: 0, portmap: none}\nvpools: [{name: default, scoSize: 4MiB}]\n"
        + "vdisks: [{name: demo, size: 16MiB}]\nwriteBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n";
    appliance = Appliance.start(new ConfigLoader(work).parse(yaml, "test", ConfigOverrides.none()));
    api = Api.admin(appliance);
    password = AdminCredential.read(appliance.config().node().dataDir()).orElseThrow().password();

    // Selenium Manager must not fetch a browser or a driver: both are Debian's, named here.
    System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    org.openqa.selenium.logging.LoggingPreferences logs = new org.openqa.selenium.logging.LoggingPreferences();
    logs.enable(org.openqa.selenium.logging.LogType.BROWSER, java.util.logging.Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1400,1800", "--user-data-dir=" + Files.createDirectories(work.resolve("chromium-profile")));
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort()
        .withLogFile(work.resolve("chromedriver.log").toFile())
        .build();
    try {
      browser = new ChromeDriver(service, options);
    } catch (RuntimeException e) {
      String log = Files.exists(work.resolve("chromedriver.log")) ? Files.readString(work.resolve("chromedriver.log")) : "";
      fail("chromium does not start headless (" + e.getMessage() + ")\nchromedriver log:\n"
          + log.substring(Math.max(0, log.length() - 4000)), e);
    }
    wait = new WebDriverWait(browser, WAIT);
    wait.ignoring(StaleElementReferenceException.class);
  }

  @AfterEach
  void stop() throws Exception {
    for (Process p : processes) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    if (browser != null) {
      browser.quit();
    }
    if (appliance != null) {
      appliance.close();
    }
  }

  @Test
  void loginCreateSnapshotCloneDeleteAndScreenshot() throws Exception {
    open();
    // a wrong password shows an error and no dashboard
    login("admin", "not-the-password");
    until(d -> d.findElement(By.id("login-error")).getText().contains("Wrong user or password"));
    assertFalse(browser.findElement(By.id("app")).isDisplayed());

    login("admin", password);
    until(ExpectedConditions.visibilityOfElementLocated(By.id("app")));
    until(d -> !d.findElements(By.cssSelector("#vdisks tr[data-vdisk='demo']")).isEmpty());
    // the nodes overview: this node (alone here), up, with its vDisk count
    String self = api.get("/nodes").body().get(0).get("name").asText();
    until(d -> !d.findElements(By.cssSelector("#nodes tr[data-node='" + self + "']")).isEmpty());
    String row = browser.findElement(By.cssSelector("#nodes tr[data-node='" + self + "']")).getText();
    assertTrue(row.contains("(this node)") && row.contains("up"), row);
    if (api.get("/stats").status() == 404) {
      until(d -> d.findElement(By.id("stats-status")).getText().contains("Statistics unavailable"));
    } else {
      until(d -> !d.findElement(By.id("node-name")).getText().equals("-"));
    }

    // create: a bad size shows the API's error text, a good one makes the vDisk
    createVdisk("web1", "12 apples");
    until(d -> d.findElement(By.id("create-message")).getText().contains("size"));
    assertEquals("error", browser.findElement(By.id("create-message")).getAttribute("class"));
    assertEquals(404, api.get("/vdisks/web1").status(), "nothing was created from bad input");
    createVdisk("web1", "64MiB");
    until(d -> d.findElement(By.id("create-message")).getText().contains("vDisk web1 created"));
    Api.Response web1 = api.get("/vdisks/web1");
    assertEquals(200, web1.status());
    assertEquals(64L << 20, web1.body().get("sizeBytes").asLong());
    assertEquals("default", web1.body().get("vpool").asText());
    until(d -> d.findElement(By.cssSelector("#vdisks tr[data-vdisk='web1']")).getText().contains("LUN 1 of "
        + IscsiConfig.DEFAULT_IQN));

    // snapshot, then a second one of the same name is refused with the engine's reason
    selectVdisk("web1");
    submit("snapshot-name", "s1", "snapshot-submit");
    until(d -> d.findElement(By.id("action-message")).getText().contains("Snapshot s1 of web1 taken"));
    assertEquals(200, api.get("/vdisks/web1/snapshots/s1").status());
    submit("snapshot-name", "s1", "snapshot-submit");
    until(d -> "error".equals(d.findElement(By.id("action-message")).getAttribute("class")));
    assertFalse(browser.findElement(By.id("action-message")).getText().isBlank());

    // clone from the snapshot
    until(d -> !new Select(d.findElement(By.id("clone-snapshot"))).getOptions().isEmpty());
    new Select(browser.findElement(By.id("clone-snapshot"))).selectByValue("s1");
    submit("clone-name", "web1c", "clone-submit");
    until(d -> d.findElement(By.id("action-message")).getText().contains("Clone web1c of web1@s1 created"));
    Api.Response clone = api.get("/vdisks/web1c");
    assertEquals(200, clone.status());
    assertEquals("web1", clone.body().get("parent").get("vdisk").asText());
    assertEquals("s1", clone.body().get("parent").get("snapshot").asText());

    // delete the parent: refused while it has a clone (the error is shown); the clone: after a confirm
    deleteSelected();
    until(d -> "error".equals(d.findElement(By.id("action-message")).getAttribute("class")));
    assertEquals(200, api.get("/vdisks/web1").status(), "a vDisk with clones stays");
    selectVdisk("web1c");
    deleteSelected();
    until(d -> d.findElements(By.cssSelector("#vdisks tr[data-vdisk='web1c']")).isEmpty());
    assertEquals(404, api.get("/vdisks/web1c").status());

    screenshot("dashboard.png");

    // logout forgets the credential
    browser.findElement(By.id("logout")).click();
    until(ExpectedConditions.visibilityOfElementLocated(By.id("login")));
    browser.navigate().refresh();
    until(ExpectedConditions.visibilityOfElementLocated(By.id("login")));
    assertFalse(browser.findElement(By.id("app")).isDisplayed());
  }

  /**
   * NEEDS GET /api/v1/stats. iscsi-perf reads a new vDisk's LUN; the dashboard's current IOPS
   * of that vDisk becomes more than 0 and the IOPS chart's series hold non-zero points.
   */
  @Test
  void liveIopsOfAVdiskUnderIscsiLoad() throws Exception {
    String perf = "/usr/bin/iscsi-perf";
    requireExecutable(Path.of(perf), "libiscsi-bin");
    assertEquals(200, api.get("/stats").status(), "this test needs GET /api/v1/stats (the metrics work)");
    open();
    login("admin", password);
    until(ExpectedConditions.visibilityOfElementLocated(By.id("app")));
    createVdisk("load1", "64MiB");
    until(d -> d.findElement(By.id("create-message")).getText().contains("vDisk load1 created"));
    int lun = api.get("/vdisks/load1").body().get("iscsi").get(0).get("lun").asInt();
    until(d -> new Select(d.findElement(By.id("chart-target"))).getOptions().stream()
        .anyMatch(o -> "vdisk:load1".equals(o.getAttribute("value"))));
    new Select(browser.findElement(By.id("chart-target"))).selectByValue("vdisk:load1");

    int port = appliance.iscsi().orElseThrow().localAddress().getPort();
    String url = "iscsi://127.0.0.1:" + port + "/" + IscsiConfig.DEFAULT_IQN + "/" + lun;
    Process p = new ProcessBuilder("timeout", "120", perf, url).redirectErrorStream(true)
        .redirectOutput(work.resolve("iscsi-perf.log").toFile()).start();
    processes.add(p);

    By iops = By.cssSelector("#vdisks td.iops[data-vdisk='load1']");
    try {
      wait.until(d -> {
        String t = d.findElement(iops).getText();
        return !t.equals("-") && Double.parseDouble(t) > 0;
      });
    } catch (org.openqa.selenium.TimeoutException e) {
      fail("the dashboard's IOPS of load1 stayed " + browser.findElement(iops).getText() + " under iscsi-perf; GET /stats -> "
          + api.get("/stats").status() + "; iscsi-perf alive " + p.isAlive() + ", output:\n"
          + Files.readString(work.resolve("iscsi-perf.log")), e);
    }
    String nonZero = "return window.vsaCharts.iops.data.slice(1).flat().filter(v => v > 0).length;";
    assertTrue(((Number) ((JavascriptExecutor) browser).executeScript(nonZero)).longValue() > 0,
        "the IOPS chart's series have non-zero points");
    // the chart keeps moving: a few more non-zero samples (one a second), for the screenshot too
    until(d -> ((Number) ((JavascriptExecutor) d).executeScript(nonZero)).longValue() >= 3);
    screenshot("dashboard-live.png");
  }

  // ---------------------------------------------------------------- helpers

  /** Waits for the condition; on timeout fails with the page's text and the browser's console. */
  private <T> T until(java.util.function.Function<WebDriver, T> condition) {
    try {
      return wait.until(condition);
    } catch (org.openqa.selenium.TimeoutException e) {
      String page = String.valueOf(((JavascriptExecutor) browser).executeScript("return document.body.innerText;"));
      StringBuilder console = new StringBuilder();
      try {
        browser.manage().logs().get(org.openqa.selenium.logging.LogType.BROWSER)
            .forEach(l -> console.append(l.getLevel()).append(' ').append(l.getMessage()).append('\n'));
      } catch (RuntimeException logs) {
        console.append("(no browser log: ").append(logs.getMessage()).append(')');
      }
      throw new AssertionError("timed out after " + WAIT.toSeconds() + " s waiting in the browser; the page says:\n"
          + page + "\nbrowser console:\n" + console, e);
    }
  }

  private static void requireExecutable(Path p, String debianPackage) {
    if (!Files.isExecutable(p)) {
      fail(p + " is missing: install the Debian package " + debianPackage + " (./test.sh installs it)");
    }
  }

  private void open() {
    browser.get("http://127.0.0.1:" + appliance.managementAddress().orElseThrow().getPort() + "/");
    until(ExpectedConditions.visibilityOfElementLocated(By.id("login")));
  }

  private void login(String user, String pw) {
    browser.findElement(By.id("login-user")).clear();
    browser.findElement(By.id("login-user")).sendKeys(user);
    browser.findElement(By.id("login-password")).clear();
    browser.findElement(By.id("login-password")).sendKeys(pw);
    browser.findElement(By.id("login-submit")).click();
  }

  private void createVdisk(String name, String size) {
    browser.findElement(By.id("create-message")).getText();
    ((JavascriptExecutor) browser).executeScript("document.getElementById('create-message').textContent = '';");
    submit("create-size", size, null);
    submit("create-name", name, "create-submit");
  }

  private void submit(String input, String value, String button) {
    ((JavascriptExecutor) browser).executeScript("document.getElementById('action-message').textContent = '';");
    browser.findElement(By.id(input)).clear();
    browser.findElement(By.id(input)).sendKeys(value);
    if (button != null) {
      browser.findElement(By.id(button)).click();
    }
  }

  private void selectVdisk(String name) {
    until(d -> {
      d.findElement(By.cssSelector("button.select-vdisk[data-vdisk='" + name + "']")).click();
      return d.findElement(By.id("selected-vdisk")).getText().equals(name);
    });
  }

  private void deleteSelected() {
    ((JavascriptExecutor) browser).executeScript("document.getElementById('action-message').textContent = '';");
    browser.findElement(By.id("delete-submit")).click();
    until(ExpectedConditions.alertIsPresent()).accept();
  }

  private void screenshot(String name) throws Exception {
    Path dir = Files.createDirectories(Path.of(System.getProperty("basedir", "."), "target", "screenshots"));
    File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
    Files.copy(shot.toPath(), dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    assertTrue(Files.size(dir.resolve(name)) > 1000, "a screenshot was written");
  }
}
