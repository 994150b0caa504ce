import FuseFormats
import Merging
import XCTest

final class MergeRecipeTests: XCTestCase {
    private func parse(_ yaml: String) throws -> MergeRecipe { try MergeRecipe.parse(yaml: yaml, source: "recipe.yaml") }

    /// The error must name the recipe and contain every fragment.
    private func assertError(_ yaml: String, _ fragments: String..., line: UInt = #line) {
        XCTAssertThrowsError(try parse(yaml), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("recipe.yaml"), text, line: line)
            for f in fragments { XCTAssertTrue(text.contains(f), "\(text) lacks \(f)", line: line) }
        }
    }

    func testTheDocumentedRecipeParses() throws {
        let recipe = try parse("""
            merge_method: ties        # linear | slerp | task_arithmetic | ties | dare_ties | dare_linear
            base_model: checkpoints/sample/target-base/final
            models:
              - model: checkpoints/a/final
                parameters: {weight: 0.5, density: 0.7}
              - model: checkpoints/b/final
                parameters: {weight: 0.5}
            parameters: {normalize: true, lambda: 1.0, density: 0.4}
            seed: 42
            dtype: bf16
            """)
        XCTAssertEqual(recipe.method, .ties)
        XCTAssertEqual(recipe.models, [.init(path: "checkpoints/a/final", weight: 0.5, density: 0.7),
                                       .init(path: "checkpoints/b/final", weight: 0.5, density: 0.4)])
        XCTAssertEqual(recipe.inputs, ["checkpoints/sample/target-base/final", "checkpoints/a/final", "checkpoints/b/final"])
        XCTAssertEqual(recipe.seed, 42)
        XCTAssertEqual(recipe.dtype, .BF16)
        XCTAssertTrue(recipe.normalizes)
        XCTAssertEqual(recipe.rescaling, .none)
    }

    func testMethodDefaultsFollowMergekit() throws {
        let dare = try parse("merge_method: dare_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.5}}]")
        XCTAssertFalse(dare.normalizes)
        XCTAssertEqual(dare.rescaling, .inverseDensity)
        let l1 = try parse("merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1}}]\nparameters: {rescale: l1}")
        XCTAssertEqual(l1.rescaling, .l1)
        let soup = try parse("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 3}}]")
        XCTAssertTrue(soup.normalizes)
        XCTAssertEqual(soup.dtype, .F32)
    }

    func testUnknownMethod() {
        assertError("merge_method: soup\nmodels: [a, b]", "merge_method", "unknown method soup", "linear, slerp, task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear, sce, model_stock")
        assertError("models: [a, b]", "merge_method", "missing")
    }

    func testSlerpNeedsExactlyTwoModels() {
        assertError("merge_method: slerp\nmodels: [a, b, c]\nparameters: {t: 0.5}", "slerp merges exactly two models", "3 (a, b, c)")
        assertError("merge_method: slerp\nbase_model: c\nmodels: [a, b]\nparameters: {t: 0.5}", "exactly two", "3 (c, a, b)")
        assertError("merge_method: slerp\nmodels: [a]\nparameters: {t: 0.5}", "exactly two", "1 (a)")
        assertError("merge_method: slerp\nmodels: [a, b]", "parameters.t", "required")
        assertError("merge_method: slerp\nmodels: [a, b]\nparameters: {t: 1.5}", "parameters.t", "[0, 1]")
        XCTAssertNoThrow(try parse("merge_method: slerp\nbase_model: a\nmodels: [a, b]\nparameters: {t: 0.5}"))
    }

    func testMissingWeight() {
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b}]", "models[1] (b)", "weight is required for linear")
        assertError("merge_method: ties\nbase_model: base\nmodels: [{model: a}]", "models[0] (a)", "weight is required for ties")
        // The base listed among the models needs no weight: its task vector is zero.
        XCTAssertNoThrow(try parse("merge_method: task_arithmetic\nbase_model: base\nmodels: [base, {model: a, parameters: {weight: 1}}]"))
        // A recipe-wide weight covers every model.
        XCTAssertNoThrow(try parse("merge_method: dare_linear\nbase_model: base\nmodels: [a, b]\nparameters: {weight: 0.5}"))
    }

    func testDensityOutOfRange() {
        for bad in ["0", "-0.2", "1.5"] {
            assertError("merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: \(bad)}}]",
                        "models[0] (a)", "density must be in (0, 1]")
        }
        assertError("merge_method: dare_ties\nbase_model: base\nmodels: [a]\nparameters: {weight: 1, density: 2}", "density must be in (0, 1]")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1, density: 0.5}}]", "density has no effect with linear")
    }

    /// The successors' methods (issue 18): their own parameters, and what has no effect with them, are named.
    func testBreadcrumbsSCEAndModelStockParameters() throws {
        let crumbs = try parse("merge_method: breadcrumbs_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, gamma: 0.1}}, b]\n"
                               + "parameters: {weight: 0.5, density: 0.8, gamma: 0.02}")
        XCTAssertEqual(crumbs.models.map(\.gamma), [0.1, 0.02])
        XCTAssertFalse(crumbs.normalizes)
        XCTAssertEqual(crumbs.rescaling, .none)
        XCTAssertEqual(try parse("merge_method: sce\nbase_model: base\nmodels: [a, b]\nparameters: {select_topk: 0.3}").selectTopK, 0.3)
        XCTAssertNoThrow(try parse("merge_method: model_stock\nbase_model: base\nmodels: [a, b]"))
        assertError("merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, gamma: 0.1}}]", "gamma", "no effect with ties")
        assertError("merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, gamma: 1.5}}]", "gamma must be in [0, 1)")
        assertError("merge_method: sce\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1}}, b]", "weight has no effect with sce")
        assertError("merge_method: sce\nbase_model: base\nmodels: [a, b]\nparameters: {select_topk: 0}", "select_topk", "(0, 1]")
        assertError("merge_method: ties\nbase_model: base\nmodels: [a]\nparameters: {weight: 1, select_topk: 0.5}", "select_topk", "no effect with ties")
        assertError("merge_method: model_stock\nbase_model: base\nmodels: [a]", "model_stock needs at least two models")
        assertError("merge_method: model_stock\nbase_model: base\nmodels: [a, b]\nparameters: {lambda: 2}", "parameters.lambda", "no effect with model_stock")
    }

    func testDellaAndFilterWiseParameters() throws {
        let della = try parse("merge_method: della\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, epsilon: 0.05}}, "
                              + "{model: b, parameters: {weight: 1}}]\nparameters: {density: 0.5, epsilon: 0.2}")
        XCTAssertEqual(della.models.map(\.epsilon), [0.05, 0.2])
        XCTAssertTrue(della.normalizes)
        XCTAssertEqual(della.rescaling, .l1)
        let linear = try parse("merge_method: della_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.5}}]")
        XCTAssertFalse(linear.normalizes)
        XCTAssertEqual(linear.rescaling, .l1)
        XCTAssertEqual(try parse("merge_method: model_stock\nbase_model: base\nmodels: [a, b]\nparameters: {filter_wise: true}").filterWise, true)
        assertError("merge_method: della\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.9}}]",
                    "density 0.9 with the default epsilon 0.15", "set epsilon")
        assertError("merge_method: della\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.3, epsilon: 0.3}}]",
                    "models[0] (a)", "density ± epsilon must lie in (0, 1)")
        assertError("merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, epsilon: 0.1}}]", "epsilon", "no effect with ties")
        assertError("merge_method: sce\nbase_model: base\nmodels: [a, b]\nparameters: {filter_wise: true}", "filter_wise", "no effect with sce")
        assertError("merge_method: model_stock\nbase_model: base\nmodels: [a, b]\nparameters: {filter_wise: 1}", "filter_wise", "true or false")
    }

    func testOtherMistakesAreNamed() {
        assertError("merge_method: ties\nmodels: [{model: a, parameters: {weight: 1}}]", "base_model", "required for ties")
        assertError("merge_method: ties\nbase_model: base\nmodels: [base]", "models", "only the base")
        assertError("merge_method: linear\nmodels: [a]\nparameters: {weight: 1}\nslices: []", "slices", "unknown key")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1, wieght: 2}}]", "models[0].parameters.wieght", "unknown parameter")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: [0, 1]}}]", "weight", "must be a number")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: a, parameters: {weight: 1}}]", "models[1] (a)", "listed twice")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: -1}}]", "sum to 0")
        assertError("merge_method: linear\nbase_model: c\nmodels: [{model: a, parameters: {weight: 1}}]", "base_model", "list c under models")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\nparameters: {lambda: 2}", "parameters.lambda", "no effect with linear")
        assertError("merge_method: ties\nbase_model: b\nmodels: [{model: a, parameters: {weight: 1}}]\nparameters: {t: 0.5}", "parameters.t", "no effect with ties")
        assertError("merge_method: task_arithmetic\nbase_model: b\nmodels: [{model: a, parameters: {weight: 1}}]\nparameters: {rescale: true}", "rescale", "no effect with task_arithmetic")
        assertError("merge_method: dare_ties\nbase_model: b\nmodels: [{model: a, parameters: {weight: 1}}]\nparameters: {rescale: l2}", "rescale", "must be true")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\ndtype: f64", "dtype", "f32, f16 or bf16")
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\nseed: -1", "seed", "non-negative")
        assertError("merge_method: [linear", "not valid YAML")
        assertError("- linear", "mapping")
    }

    func testUnreadableRecipeNamesTheFile() {
        XCTAssertThrowsError(try MergeRecipe.load(path: "/nonexistent/recipe.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/recipe.yaml"), "\(error)")
        }
    }
}
