import { describe, expect, it } from "vitest";
import { codeProblem, compactCode, groupedCode } from "./productCode";
import { translate } from "./i18n";
import { errorText } from "./errors";
import { ApiError } from "./api";

describe("a product code as the member types or pastes it", () => {
  it("is tidied to its 16 symbols and read back in groups of four", () => {
    expect(compactCode(" 7kq2 m9xd-4tpr hb3c\n")).toBe("7KQ2M9XD4TPRHB3C");
    expect(groupedCode("7kq2m9xd4tprhb3c")).toBe("7KQ2-M9XD-4TPR-HB3C");
  });

  it("says before sending when the text cannot be a code, so a typo spends no attempt", () => {
    expect(codeProblem("   ")).toBe("empty");
    expect(codeProblem("7KQ2-M9XD-4TPR")).toBe("length");
    expect(codeProblem("7KQ2-M9XD-4TPR-HB3U")).toBe("symbols"); // U is not a Crockford symbol
    expect(codeProblem("7KQ2-M9XD-4TPR-HB3#")).toBe("symbols");
    expect(codeProblem("7kq2 m9xd 4tpr hb3c")).toBeNull();
    expect(codeProblem("OIL0-M9XD-4TPR-HB3C")).toBeNull(); // O, I and L are read as 0, 1, 1 by the server
  });

  it("explains an unusable code in the member's language, with the API's own detail", () => {
    const problem = new ApiError(422, "invalid_product_code", "The code cannot be used", "This code cannot be used: check what you typed");
    expect(errorText(problem, "en").summary).toBe("This code cannot be used");
    expect(errorText(problem, "zh-CN").summary).toBe("此码无法使用");
    expect(errorText(problem, "en").detail).toContain("check what you typed");
    expect(translate("zh-CN", "scan.submit")).toBe("领取积分");
    expect(translate("en", "scan.earned", { points: "30", product: "Cola", balance: "130" })).toBe("+30 points for Cola. Your balance is now 130 points.");
  });
});
