import { createApp } from "vue";
import App from "./App.vue";
import { locale } from "./lib/i18n";
import { appError } from "./lib/appError";
import { router } from "./router";
import "./styles.css";

document.documentElement.lang = locale.value;
const app = createApp(App);
// Nothing a page throws leaves a blank screen: it is shown as an alert (App.vue).
app.config.errorHandler = (error) => {
  appError.value = error;
  console.error(error);
};
router.onError((error) => {
  appError.value = error;
});
app.use(router).mount("#app");
